package testcluster

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestGroup is the API group of the test custom resources.
const TestGroup = "test.ssakit.dev"

var (
	// WidgetGVK is a namespaced custom resource with a status subresource and a spec.replicas
	// field the server defaults to 1. Its status has conditions keyed by type and an atomic map,
	// selector.
	WidgetGVK = schema.GroupVersionKind{Group: TestGroup, Version: "v1", Kind: "Widget"}
	// GadgetGVK has the same schema as Widget but no status subresource.
	GadgetGVK = schema.GroupVersionKind{Group: TestGroup, Version: "v1", Kind: "Gadget"}
)

// conditionsSchema is the schema of a list of metav1.Condition, keyed by type.
var conditionsSchema = apiextensionsv1.JSONSchemaProps{
	Type:         "array",
	XListType:    new("map"),
	XListMapKeys: []string{"type"},
	Items: &apiextensionsv1.JSONSchemaPropsOrArray{Schema: &apiextensionsv1.JSONSchemaProps{
		Type:     "object",
		Required: []string{"type", "status", "lastTransitionTime", "reason", "message"},
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"type":               {Type: "string"},
			"status":             {Type: "string", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"True"`)}, {Raw: []byte(`"False"`)}, {Raw: []byte(`"Unknown"`)}}},
			"reason":             {Type: "string"},
			"message":            {Type: "string"},
			"observedGeneration": {Type: "integer", Format: "int64"},
			"lastTransitionTime": {Type: "string", Format: "date-time"},
		},
	}},
}

// CRDs returns the test custom resource definitions that Start installs.
func CRDs() []*apiextensionsv1.CustomResourceDefinition {
	return []*apiextensionsv1.CustomResourceDefinition{
		testCRD("widgets", WidgetGVK.Kind, true),
		testCRD("gadgets", GadgetGVK.Kind, false),
	}
}

func testCRD(plural, kind string, statusSubresource bool) *apiextensionsv1.CustomResourceDefinition {
	version := apiextensionsv1.CustomResourceDefinitionVersion{
		Name:    "v1",
		Served:  true,
		Storage: true,
		Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
			Type: "object",
			Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"spec": {
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"replicas": {Type: "integer", Default: &apiextensionsv1.JSON{Raw: []byte("1")}},
						"color":    {Type: "string"},
					},
				},
				"status": {
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"phase":              {Type: "string"},
						"observedGeneration": {Type: "integer", Format: "int64"},
						"conditions":         conditionsSchema,
						// selector is replaced whole by every write, as a LabelSelector's
						// matchLabels or any x-kubernetes-map-type: atomic map is.
						"selector": {
							Type:                 "object",
							XMapType:             new("atomic"),
							AdditionalProperties: &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: &apiextensionsv1.JSONSchemaProps{Type: "string"}},
						},
					},
				},
			},
		}},
	}
	if statusSubresource {
		version.Subresources = &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}}
	}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + TestGroup},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group:    TestGroup,
			Scope:    apiextensionsv1.NamespaceScoped,
			Names:    apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind, ListKind: kind + "List", Singular: plural[:len(plural)-1]},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{version},
		},
	}
}
