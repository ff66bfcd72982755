// Package config embeds the operator's manifests, so the demo and the tests install exactly what
// is checked in: the CRD and ClusterRole that controller-gen generates, the deployment files, and
// the admission policies that let a ConfigMirror write only where its author could and keep its
// finalizer while it lives.
package config

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Files are the manifests under config/, by path relative to it.
//
//go:embed crd/*.yaml rbac/*.yaml manager/*.yaml admission/*.yaml kustomization.yaml
var Files embed.FS

// CRD is the ConfigMirror CustomResourceDefinition.
func CRD() (*apiextensionsv1.CustomResourceDefinition, error) {
	raw, err := Files.ReadFile("crd/mirror.ssakit.dev_configmirrors.yaml")
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(raw, crd); err != nil {
		return nil, fmt.Errorf("config/crd: %w", err)
	}
	return crd, nil
}

// Objects returns every Kubernetes object in the manifests (kustomization.yaml is not one), with
// the file each came from.
func Objects() (map[string][]*unstructured.Unstructured, error) {
	objects := map[string][]*unstructured.Unstructured{}
	err := fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || path == "kustomization.yaml" {
			return err
		}
		raw, err := Files.ReadFile(path)
		if err != nil {
			return err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(raw)), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return fmt.Errorf("config/%s: %w", path, err)
			}
			if len(obj.Object) > 0 {
				objects[path] = append(objects[path], obj)
			}
		}
	})
	return objects, err
}
