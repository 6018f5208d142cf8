// Package zerotrust is the zero-trust scenario of Castellan, run by
// run.sh: the issuer command is a real identity provider (two JWKS
// endpoints: workloads and users) that writes the server's castellan.yaml
// and mints the tokens; `castellan serve --config` trusts it; the
// workloads employee-service and ai-reporting-agent ask about Review and
// HrReport resources, employee-service on behalf of users whose role and
// department claims the policy (policy.polar) reads as verified facts.
package zerotrust
