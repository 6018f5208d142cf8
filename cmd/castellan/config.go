package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castellan-authz/castellan/identity"
)

// The configuration file of `castellan serve --config FILE` is YAML. Every
// serve flag is a top-level key, its name with "-" → "_" (--max-body-bytes
// is max_body_bytes); lists (policy, trusted_proxies) are YAML sequences
// or comma-separated strings. A mapping groups keys by their first words:
// `audit: {log: FILE, context_facts: hashed}` is `audit_log: FILE` and
// `audit_context_facts: hashed`. The identity section has no flags:
//
//	identity:
//	  issuers:
//	    - issuer: https://idp.example
//	      jwks_url: https://idp.example/jwks
//	      ...
//
// Precedence: flags > CASTELLAN_* variables > the file > defaults. An
// unknown key is an error naming it and its line.

// configKey is the file key of a flag.
func configKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// fileIssuer is one identity.issuers entry as the file spells it.
type fileIssuer struct {
	Issuer             string        `yaml:"issuer"`
	JWKSURL            string        `yaml:"jwks_url"`
	Audience           string        `yaml:"audience"`
	Algorithms         []string      `yaml:"algorithms"`
	Use                string        `yaml:"use"`
	ActorType          string        `yaml:"actor_type"`
	ActorTypeClaim     string        `yaml:"actor_type_claim"`
	ScopeClaim         string        `yaml:"scope_claim"`
	Claims             []string      `yaml:"claims"`
	ClockSkew          time.Duration `yaml:"clock_skew"`
	RefreshInterval    time.Duration `yaml:"refresh_interval"`
	MinRefreshInterval time.Duration `yaml:"min_refresh_interval"`
}

// fileTrustDomain is one identity.trust_domains entry as the file spells it.
type fileTrustDomain struct {
	TrustDomain string `yaml:"trust_domain"`
	ActorType   string `yaml:"actor_type"`
	Scope       string `yaml:"scope"`
}

// identityKeys are the keys of the identity section, trustDomainKeys
// those of an identity.trust_domains entry.
var (
	identityKeys    = []string{"issuers", "client_ca", "trust_domains"}
	trustDomainKeys = []string{"trust_domain", "actor_type", "scope"}
)

// issuerKeys are the keys of an identity.issuers entry.
var issuerKeys = []string{"issuer", "jwks_url", "audience", "algorithms", "use", "actor_type", "actor_type_claim",
	"scope_claim", "claims", "clock_skew", "refresh_interval", "min_refresh_interval"}

// loadConfigFile reads the file at path: each flag key is set on fs (as
// if given as a flag), the identity section goes to c. set records the
// flags the file sets.
func loadConfigFile(path string, fs *flag.FlagSet, c *serveConfig, set map[string]bool) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return usageError("--config: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return usageError("%s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return usageError("%s:%d: the configuration must be a mapping of keys to values", path, root.Line)
	}
	at := func(n *yaml.Node, format string, args ...any) error {
		return usageError("%s:%d: %s", path, n.Line, fmt.Sprintf(format, args...))
	}
	for k := 0; k < len(root.Content); k += 2 {
		key, val := root.Content[k], root.Content[k+1]
		if key.Value == "identity" {
			ic, err := identitySection(val, at)
			if err != nil {
				return err
			}
			c.Server.Identity = ic
			continue
		}
		if err := setConfigKey(fs, set, at, "", key, val); err != nil {
			return err
		}
	}
	return nil
}

// setConfigKey sets the flag of one key of the file (prefix + key, with
// prefix "" at the top level). A mapping is a section that groups keys:
// `audit: {log: FILE}` is `audit_log: FILE`, the flag --audit-log.
func setConfigKey(fs *flag.FlagSet, set map[string]bool, at func(*yaml.Node, string, ...any) error, prefix string, key, val *yaml.Node) error {
	name := prefix + key.Value
	// shown is the key as the file spells it: a key of a section is
	// section.key.
	shown := key.Value
	if prefix != "" {
		shown = strings.ReplaceAll(strings.TrimSuffix(prefix, "_"), "_", ".") + "." + key.Value
	}
	if val.Kind == yaml.MappingNode {
		for k := 0; k < len(val.Content); k += 2 {
			if err := setConfigKey(fs, set, at, name+"_", val.Content[k], val.Content[k+1]); err != nil {
				return err
			}
		}
		return nil
	}
	f := fs.Lookup(strings.ReplaceAll(name, "_", "-"))
	if f == nil || f.Name == "config" || configKey(f.Name) != name {
		return at(key, "unknown key %q", shown)
	}
	if val.Tag == "!!null" {
		return nil
	}
	var values []string
	switch val.Kind {
	case yaml.ScalarNode:
		values = []string{val.Value}
	case yaml.SequenceNode:
		if _, isList := f.Value.(*stringsFlag); !isList {
			return at(val, "%s takes one value, not a list", shown)
		}
		for _, item := range val.Content {
			if item.Kind != yaml.ScalarNode {
				return at(item, "%s: each item must be a plain value", shown)
			}
			values = append(values, item.Value)
		}
	default:
		return at(val, "%s takes a plain value", shown)
	}
	if sf, isList := f.Value.(*stringsFlag); isList {
		*sf = nil
	}
	for _, v := range values {
		if err := fs.Set(f.Name, v); err != nil {
			return at(val, "%s: %q: %v", shown, v, err)
		}
	}
	set[f.Name] = true
	return nil
}

// identitySection decodes the identity section.
func identitySection(n *yaml.Node, at func(*yaml.Node, string, ...any) error) (identity.Config, error) {
	var out identity.Config
	if n.Kind != yaml.MappingNode {
		return out, at(n, "identity must be a mapping with the keys %s", strings.Join(identityKeys, ", "))
	}
	for k := 0; k < len(n.Content); k += 2 {
		key, val := n.Content[k], n.Content[k+1]
		var err error
		switch key.Value {
		case "issuers":
			out.Issuers, err = decodeList(val, "identity.issuers", issuerKeys, at, func(fi fileIssuer) identity.Issuer {
				return identity.Issuer{
					Issuer: fi.Issuer, JWKSURL: fi.JWKSURL, Audience: fi.Audience, Algorithms: fi.Algorithms,
					Use: identity.Use(fi.Use), ActorType: fi.ActorType, ActorTypeClaim: fi.ActorTypeClaim,
					ScopeClaim: fi.ScopeClaim, Claims: fi.Claims, ClockSkew: fi.ClockSkew,
					RefreshInterval: fi.RefreshInterval, MinRefreshInterval: fi.MinRefreshInterval,
				}
			})
		case "client_ca":
			if val.Kind != yaml.ScalarNode {
				return out, at(val, "identity.client_ca must be a file name")
			}
			out.ClientCA = val.Value
		case "trust_domains":
			out.TrustDomains, err = decodeList(val, "identity.trust_domains", trustDomainKeys, at, func(td fileTrustDomain) identity.TrustDomain {
				return identity.TrustDomain{TrustDomain: td.TrustDomain, ActorType: td.ActorType, Scope: td.Scope}
			})
		default:
			return out, at(key, "unknown key %q in identity (known: %s)", key.Value, strings.Join(identityKeys, ", "))
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// decodeList decodes the list section of mappings: each entry, whose keys
// must be in known, into an F, converted by conv.
func decodeList[F, T any](val *yaml.Node, section string, known []string, at func(*yaml.Node, string, ...any) error, conv func(F) T) ([]T, error) {
	if val.Kind != yaml.SequenceNode {
		return nil, at(val, "%s must be a list", section)
	}
	var out []T
	for i, item := range val.Content {
		if item.Kind != yaml.MappingNode {
			return nil, at(item, "%s[%d] must be a mapping", section, i)
		}
		for j := 0; j < len(item.Content); j += 2 {
			if name := item.Content[j].Value; !slices.Contains(known, name) {
				return nil, at(item.Content[j], "unknown key %q in %s[%d] (known: %s)", name, section, i, strings.Join(known, ", "))
			}
		}
		var f F
		if err := item.Decode(&f); err != nil {
			return nil, at(item, "%s[%d]: %v", section, i, yamlMessage(err))
		}
		out = append(out, conv(f))
	}
	return out, nil
}

// yamlMessage is the text of a decoding error without yaml's prefix.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}

// configPath finds --config (or -config) in args, else CASTELLAN_CONFIG.
// It also returns the flags args gives, by name, read with a scratch
// flag set so that the real parse, later, reports any error.
func configPath(e *env, args []string) (string, map[string]bool) {
	var scratch serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	serveFlags(fs, &scratch)
	path := fs.String("config", "", "")
	_ = fs.Parse(args)
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["config"] {
		*path = e.getenv("CASTELLAN_CONFIG")
	}
	return *path, given
}
