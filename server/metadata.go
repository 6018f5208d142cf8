package server

import "github.com/castellan-authz/castellan/lang"

// metadataOut is lang.Metadata as GET /api/policy_metadata sends it (under
// "metadata"). Slices and maps are passed through as they are, so what lang
// leaves empty or nil is sent as [] / {} or null alike.
type metadataOut struct {
	Resources map[string]resourceMetadataOut `json:"resources"`
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
