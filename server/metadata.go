package server

import (
	"slices"

	"github.com/castellan-authz/castellan/lang"
)

// metadataOut is lang.Metadata as GET /api/policy_metadata sends it (under
// "metadata"). Slices and maps are passed through as they are, so what lang
// leaves empty or nil is sent as [] / {} or null alike.
type metadataOut struct {
	Resources map[string]resourceMetadataOut `json:"resources"`
	// Predicates is sent with ?predicates=true only.
	Predicates map[string][]predicateUseOut `json:"predicates,omitempty"`
}

// predicateUseOut is one rule whose body calls a storable predicate.
type predicateUseOut struct {
	Arity    int    `json:"arity"`
	Source   string `json:"source"`
	Position string `json:"position"`
}

// toPredicatesOut lists the rules using each storable predicate, by
// predicate name (every arity together; [] for a predicate no rule uses).
func toPredicatesOut(uses map[lang.Pred][]*lang.Rule) map[string][]predicateUseOut {
	out := make(map[string][]predicateUseOut, len(uses))
	for q, rules := range uses {
		if out[q.Name] == nil {
			out[q.Name] = []predicateUseOut{}
		}
		for _, r := range rules {
			pos := "" // a rule Castellan derives (allow if has_permission) has none
			if r.Pos.IsValid() {
				pos = r.Pos.String()
			}
			out[q.Name] = append(out[q.Name], predicateUseOut{Arity: q.Arity, Source: r.Text, Position: pos})
		}
	}
	for _, us := range out {
		slices.SortStableFunc(us, func(a, b predicateUseOut) int { return a.Arity - b.Arity })
	}
	return out
}

// resourceMetadataOut is one block's lang.ResourceMetadata on the wire.
type resourceMetadataOut struct {
	Roles       []string          `json:"roles"`
	Permissions []string          `json:"permissions"`
	Relations   map[string]string `json:"relations"`
}

func toMetadataOut(md lang.Metadata) metadataOut {
	if md.Resources == nil {
		return metadataOut{}
	}
	out := metadataOut{Resources: make(map[string]resourceMetadataOut, len(md.Resources))}
	for name, rm := range md.Resources {
		out.Resources[name] = resourceMetadataOut{Roles: rm.Roles, Permissions: rm.Permissions, Relations: rm.Relations}
	}
	return out
}
