package ssatest

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/ssakit/ssakit/internal/typeconverters"
)

// NewClientBuilder returns a builder of controller-runtime's fake client
// (sigs.k8s.io/controller-runtime/pkg/client/fake) set up for Server-Side Apply as ssakit relies
// on it. Go on with its methods (WithObjects, WithStatusSubresource, WithIndex,
// WithInterceptorFuncs, ...) and Build it. Compared with fake.NewClientBuilder:
//
//   - WithScheme(scheme); nil means client-go's scheme.Scheme, as there.
//   - WithReturnManagedFields: objects carry managedFields, from which ssa.Finalizer decides
//     whether an Add is needed and names the co-owners of a finalizer Remove could not drop.
//   - Type converters: typeConverters in order, then client-go's built-in types
//     (applyconfigurations.NewTypeConverter). Pass the converter generated with a custom
//     resource's apply configurations (applyconfiguration.NewTypeConverter(scheme)). A kind none
//     of them knows makes its writes fail with an error that says so, instead of falling back, as
//     the fake does by default, on managedfields.NewDeducedTypeConverter: that one treats every
//     list as atomic, metadata.finalizers included, so two field managers' finalizers would
//     replace each other, where the API server keeps both (docs/ssa-semantics.md row 1). Pass
//     managedfields.NewDeducedTypeConverter() last to accept that anyway.
//   - Objects get UIDs, as the API server gives them: each object created through the client
//     (Create, or an Apply or Update that creates) a new one, and each initial one (WithObjects,
//     WithRuntimeObjects, WithLists) one unless it has one; a typed object given gets it too. A
//     write without a UID keeps the stored one, and a write with another is a 422 "field is
//     immutable" (docs/ssa-semantics.md row 10). ssa.Finalizer refuses an object without a UID.
//   - A /status apply is recorded under the subresource "status" and owns only the status it
//     sent. The plain fake gives the applier every field of the object, finalizers included, so
//     no finalizer could be removed once the controller had applied status.
//   - An apply (Client.Apply) to a terminating object is merged before the object is deleted:
//     one that lists no finalizers deletes it only when the merged object carries none, as on the
//     API server, where the plain fake deletes it whatever other finalizers, or other managers'
//     claims on the released one, still hold it. The applier owns only what it sent, not the
//     deletionTimestamp the fake copies into every apply to a terminating object. So a controller
//     with two finalizers can release one while the other waits, and ssa.Finalizer.Remove reports
//     a *ssa.CoOwnedError on a terminating object as on the server.
//   - WithGlobalResourceVersionCounter: resourceVersions come from one counter, as from etcd, so
//     an object recreated under a name never gets the resourceVersion of its predecessor.
//
// The type converters, the UIDs, the /status apply and the apply to a terminating object are the
// work of the object tracker under the client, given with WithObjectTracker: client-go's
// field-managed tracker (testing.NewFieldManagedObjectTracker), whose logic it follows, with these
// changes. The tracker is the one place every object passes through, however it is created. It is
// told the object of a write, not the subresource, and it is handed an apply to a terminating
// object only after the fake has decided whether to delete it, so the client Build returns marks
// each /status apply, and each apply to a terminating object, in the configuration it sends the
// fake, for the tracker to know it by; the marks never show in an answer or a stored object. To
// keep the fake from deleting an object whose merged finalizers are not empty, the client works
// out that merge first, with the tracker's field manager, and sends the apply carrying them; the
// tracker gives the configuration its own finalizers back before it merges. The ClientBuilder
// offers no WithScheme, WithObjectTracker or WithTypeConverters: pass the scheme and the
// converters here.
//
// The package documentation lists where the fake still differs from the API server.
func NewClientBuilder(scheme *runtime.Scheme, typeConverters ...managedfields.TypeConverter) *ClientBuilder {
	if scheme == nil {
		scheme = clientgoscheme.Scheme
	}
	converter := newTypeConverter(append(append([]managedfields.TypeConverter{}, typeConverters...), builtinTypeConverter()))
	tracker := newTracker(scheme, converter)
	return &ClientBuilder{tracker: tracker, fake: fake.NewClientBuilder().
		WithScheme(scheme).
		WithObjectTracker(tracker).
		WithReturnManagedFields().
		WithGlobalResourceVersionCounter()}
}

// ClientBuilder builds a fake client set up by NewClientBuilder. Its methods are those of
// controller-runtime's fake.ClientBuilder that leave that setup alone, and do what they do
// there, but that interceptor funcs are given to the client Build returns, not put in place of
// it (see WithInterceptorFuncs).
type ClientBuilder struct {
	fake         *fake.ClientBuilder
	tracker      *tracker
	indexes      []index
	interceptors *interceptor.Funcs
}

// index is an index given to WithIndex, kept for the copies a LaggingClient reads.
type index struct {
	obj          runtime.Object
	field        string
	extractValue client.IndexerFunc
}

// WithObjects gives the client initial objects, as fake.ClientBuilder.WithObjects does; each
// gets a UID unless it has one.
func (b *ClientBuilder) WithObjects(objs ...client.Object) *ClientBuilder {
	b.fake.WithObjects(objs...)
	return b
}

// WithRuntimeObjects gives the client initial objects, as fake.ClientBuilder.WithRuntimeObjects
// does; each gets a UID unless it has one.
func (b *ClientBuilder) WithRuntimeObjects(objs ...runtime.Object) *ClientBuilder {
	b.fake.WithRuntimeObjects(objs...)
	return b
}

// WithLists gives the client the items of lists as initial objects, as
// fake.ClientBuilder.WithLists does; each gets a UID unless it has one.
func (b *ClientBuilder) WithLists(lists ...client.ObjectList) *ClientBuilder {
	b.fake.WithLists(lists...)
	return b
}

// WithStatusSubresource gives the kinds of objs a status subresource, as
// fake.ClientBuilder.WithStatusSubresource does; the built-in kinds that have one on the API
// server have it anyway.
func (b *ClientBuilder) WithStatusSubresource(objs ...client.Object) *ClientBuilder {
	b.fake.WithStatusSubresource(objs...)
	return b
}

// WithIndex registers an index for List's field selectors, as fake.ClientBuilder.WithIndex does
// (it panics on a second index of one field and kind).
func (b *ClientBuilder) WithIndex(obj runtime.Object, field string, extractValue client.IndexerFunc) *ClientBuilder {
	b.fake.WithIndex(obj, field, extractValue)
	b.indexes = append(b.indexes, index{obj: obj, field: field, extractValue: extractValue})
	return b
}

// WithRESTMapper sets the RESTMapper the client's RESTMapper() and IsObjectNamespaced answer
// from (the fake's WithRESTMapper), for code under test that asks it. The fake still stores
// objects under the resource names it guesses from the scheme.
func (b *ClientBuilder) WithRESTMapper(mapper meta.RESTMapper) *ClientBuilder {
	b.fake.WithRESTMapper(mapper)
	return b
}

// WithInterceptorFuncs has the client Build returns call funcs instead of its methods, as
// fake.ClientBuilder.WithInterceptorFuncs does; a later call replaces funcs. The funcs get the
// client that marks /status applies: what they send on goes through it, so an interceptor of
// SubResourceApply sees the configuration as its caller gave it, and can fail the call or send
// it on, without undoing what NewClientBuilder set up (on the fake's own builder, interceptors
// would replace it).
func (b *ClientBuilder) WithInterceptorFuncs(funcs interceptor.Funcs) *ClientBuilder {
	b.interceptors = &funcs
	return b
}

// Build builds the fake client: the fake's, with every /status apply marked for the tracker and
// every apply that would delete a terminating object other finalizers still hold sent held (see
// NewClientBuilder), inside the interceptor funcs given to WithInterceptorFuncs, if any. Like
// fake.ClientBuilder.Build, it panics when called a second time.
func (b *ClientBuilder) Build() client.WithWatch {
	var c client.WithWatch = &markingClient{WithWatch: b.fake.Build(), tracker: b.tracker, indexes: b.indexes}
	if b.interceptors != nil {
		c = interceptor.NewClient(c, *b.interceptors)
	}
	return c
}

// markingClient is the client Build returns, under the test's interceptor funcs if it gave any:
// the fake client, with what the tracker under it must know of a request and is not told carried
// in the request itself. The tracker is told the object of a write, never the subresource; the
// client marks every /status apply (status.go). The fake deletes a terminating object on any
// apply that lists no finalizers; the client holds such an apply when the object would keep
// finalizers (terminating.go). Nothing else brings managedFields to the tracker in an apply that
// could succeed: the field manager refuses them, as the API server does.
//
// It is a type of its own, and a pointer, rather than interceptor.Funcs, so that the client Build
// returns stays comparable (the interceptor client is a struct of funcs): Cluster{Client: c}
// serves c itself.
type markingClient struct {
	client.WithWatch
	tracker *tracker
	indexes []index
}

// Unwrap returns the fake client, for fake.AddIndex (which unwraps a client by this method, as
// it does the interceptor client).
func (c *markingClient) Unwrap() client.WithWatch {
	return c.WithWatch
}

// builtinTypeConverter is client-go's converter for the built-in types, over a scheme of those
// types alone (as the fake builds it), so that it refuses any other kind instead of guessing.
var builtinTypeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	builtins := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(builtins); err != nil {
		panic(fmt.Sprintf("ssatest: registering client-go's types: %v", err))
	}
	return clientgoac.NewTypeConverter(builtins)
})

// typeConverter is typeconverters.First over its converters, with an error that says what to pass
// when none knows the kind.
type typeConverter struct {
	managedfields.TypeConverter
}

func newTypeConverter(converters []managedfields.TypeConverter) typeConverter {
	return typeConverter{typeconverters.First(converters...)}
}

// ObjectToTyped implements managedfields.TypeConverter.
func (c typeConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	value, err := c.TypeConverter.ObjectToTyped(obj, opts...)
	if err != nil {
		return nil, fmt.Errorf("ssatest: no type converter knows %s: pass the one generated with its apply configurations "+
			"(applyconfiguration.NewTypeConverter(scheme)) to ssatest.NewClientBuilder; without its schema the fake cannot tell "+
			"that metadata.finalizers is a set (the converters said: %w)", obj.GetObjectKind().GroupVersionKind(), err)
	}
	return value, nil
}
