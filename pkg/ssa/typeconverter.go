package ssa

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/rest"
)

// ServerTypeConverter returns a TypeConverter built from the OpenAPI v3 schemas the API server
// publishes for groupVersions, so that code deciding locally whether an apply would change
// anything (structured-merge-diff field sets, merges and comparisons) sees the same list types,
// map keys and atomic fields as the server. Use it for custom resources that have no generated
// apply configurations; with generated ones prefer their
// applyconfiguration.NewTypeConverter(scheme), and for built-in types client-go's
// applyconfigurations.NewTypeConverter(scheme), which need no requests.
//
// It is a thin wrapper around client-go's [openapi.NewTypeConverter], fed only the requested
// group-versions of the server's /openapi/v3 discovery (upstream reads every group-version the
// server serves). The schemas are read once: a converter does not follow a later change to a CRD's
// schema, so build a new one (restart the controller) after such a change. It costs one discovery
// request plus one request per group-version; it takes no context, so bound it with cfg.Timeout.
//
// Passing no group-version is an error, and so is a group-version the server does not serve. The
// server publishes a CRD's schema shortly after the CRD becomes Established, so a caller that has
// just installed one may need to retry.
func ServerTypeConverter(cfg *rest.Config, groupVersions ...schema.GroupVersion) (managedfields.TypeConverter, error) {
	if len(groupVersions) == 0 {
		return nil, errors.New("ServerTypeConverter needs at least one group-version: pass the group-version of every custom resource the converter must know")
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client for the OpenAPI v3 schemas: %w", err)
	}
	served, err := dc.OpenAPIV3().Paths()
	if err != nil {
		return nil, fmt.Errorf("listing the API server's OpenAPI v3 group-versions (check that the server is reachable and serves /openapi/v3): %w", err)
	}
	wanted := make(openAPIPaths, len(groupVersions))
	for _, gv := range groupVersions {
		path := openAPIV3Path(gv)
		p, ok := served[path]
		if !ok {
			return nil, fmt.Errorf("the API server publishes no OpenAPI v3 schema for %s: check that the CustomResourceDefinition for it is installed and serves that version", gv)
		}
		wanted[path] = p
	}
	// Every document repeats the shared meta/v1 types (ObjectMeta, ManagedFieldsEntry, ...) under
	// the same names, and upstream keeps whichever document it reads last. That loses nothing an
	// apply needs: the copies are identical except the x-kubernetes-group-version-kind lists of
	// DeleteOptions and WatchEvent, which name the document's own group-version.
	tc, err := openapi.NewTypeConverter(wanted, false)
	if err != nil {
		return nil, fmt.Errorf("building a TypeConverter from the server's OpenAPI v3 schemas of %v: %w", groupVersions, err)
	}
	return tc, nil
}

// openAPIV3Path is the key of gv in the server's /openapi/v3 discovery document.
func openAPIV3Path(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// openAPIPaths is an [openapi.Client] that answers with group-versions already discovered, so
// that [openapi.NewTypeConverter] fetches only those.
type openAPIPaths map[string]openapi.GroupVersion

func (p openAPIPaths) Paths() (map[string]openapi.GroupVersion, error) { return p, nil }
