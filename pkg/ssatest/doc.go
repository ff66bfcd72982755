// Package ssatest sets up controller-runtime's fake client (sigs.k8s.io/controller-runtime/pkg/client/fake)
// for unit tests of controllers built on ssakit, and says where the fake still differs from the
// API server.
//
// A test of the minimal example's Site controller (example/minimal/controller/site_test.go): the
// scheme holds client-go's types and the Site's, and the type converter is the one controller-gen
// generated with the Site's apply configurations (the package applyconfiguration of its API):
//
//	scheme := runtime.NewScheme()
//	_ = clientgoscheme.AddToScheme(scheme)   // ConfigMaps and the other built-in types
//	_ = minimalv1alpha1.AddToScheme(scheme) // Site
//	c := ssatest.NewClientBuilder(scheme, applyconfiguration.NewTypeConverter(scheme)).
//		WithStatusSubresource(&minimalv1alpha1.Site{}). // as the CRD declares it
//		WithObjects(site).
//		Build()
//	r, err := controller.NewReconciler(ssatest.Cluster{Client: c}, dns.NewMemory(30*time.Second))
//	_, err = r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(site)})
//
// [NewClientBuilder] returns a [ClientBuilder] of the fake client with what ssakit needs from the
// server and the plain fake lacks: UIDs on every object (ssa.Finalizer refuses an object without
// one), managedFields in every answer, the schema of every kind (so that metadata.finalizers is a
// set for custom resources too), resourceVersions from one counter, a /status apply that owns
// only the status it sent, and a terminating object that stays while any finalizer holds it, so
// that a controller with several finalizers, or one that shares a finalizer with another manager,
// can be unit-tested through a deletion. It has the fake builder's methods that leave this alone
// (WithObjects, WithStatusSubresource, WithIndex, ...). Its Build gives the fake client a layer
// that marks each /status apply, and each apply to a terminating object, in the request, for the
// object tracker to know it by; interceptor funcs given to WithInterceptorFuncs go around that
// layer, so they see each call as sent and cannot undo the setup. The kit decides from what it is
// given, never from the call stack. [Cluster] serves one client as a manager would, for
// reconcile.New; with a [LaggingClient] as its client, the reads of the code under test lag
// behind the store, as an informer cache does, while its API reader does not.
//
// # Where the fake still differs from the API server
//
// Rows are those of docs/ssa-semantics.md; each item is pinned by the test named after
// it (differences_test.go), so a controller-runtime upgrade that changes one is noticed. Test
// what depends on these against a real API server (envtest).
//
//   - A terminating object is kept while finalizers hold it only for an apply through
//     Client.Apply. A Patch with client.Apply (deprecated since controller-runtime v0.25) that
//     lists no finalizers still deletes it, whatever other finalizers hold it: controller-runtime's
//     fake looks at the configuration, not at the merged object (rows 3, 13).
//     TestFake_DeletesATerminatingObjectOnAnApplyPatchWithoutFinalizers.
//   - A new finalizer is accepted on a terminating object; the server answers 422 (row 12).
//     ssa.Finalizer.Add still refuses an object it sees terminating, without a request.
//     TestFake_AcceptsANewFinalizerOnATerminatingObject.
//   - Any finalizer name is accepted, and no warning is ever sent (rows 15, 16).
//     TestFake_AcceptsFinalizerNamesTheServerRefuses.
//   - Every apply is written: an apply that changes nothing still bumps resourceVersion
//     (row 21). To see that a reconcile sent nothing, compare the resourceVersion of the object
//     it would have written. TestFake_NoOpApplyBumpsTheResourceVersion.
//   - A stale resourceVersion is a 409 Conflict, as on the server (row 11), but worded "object was
//     modified", not "the object has been modified"; ssa.FromApplyError goes by the reason, so it
//     is ssa.ErrStale all the same. TestFake_RefusesAStatusApplyWithAStaleResourceVersionInItsOwnWords.
//   - metadata.generation is never set or bumped (row 6). Give initial objects the Generation
//     the server would (1 for a new object): a status reporting observedGeneration 0 is never
//     proven unchanged, because of the next item. TestFake_NeverSetsGeneration.
//   - An apply to an existing object is converted to the kind's Go type and back before it is
//     merged. Fields the Go type always writes (a pointer or slice without omitempty, a struct
//     without omitzero) are applied too, empty: on a Deployment, ssa.Finalizer.Add conflicts
//     with the creator's spec.selector. Explicit zeros of omitempty fields are dropped, and not
//     owned. Kinds whose Go types omit their empty fields (ConfigMap, Secret, custom resources
//     with omitempty/omitzero fields) are not affected by the first.
//     TestFake_AppliesTheZeroValuesOfTheKindsGoType,
//     TestFake_DropsExplicitZeroValuesOfOmitemptyFieldsFromAnApply.
//   - A main-resource apply of a kind with a status subresource owns the stored status: the fake
//     copies it into the configuration, where the server drops status.
//     TestFake_MainResourceApplyOwnsTheStoredStatus.
//   - A client.Preconditions UID on Delete is ignored (only the resourceVersion is checked).
//     TestFake_IgnoresAUIDPreconditionOnDelete.
//   - Objects given to WithObjects have only the managedFields given with them, none by default,
//     so the field manager does not track Updates to them until the first apply, which then
//     gives every existing field to "before-first-apply" (row 24). Create an object through the
//     client, with client.FieldOwner, when a test needs another manager's Update on record.
//     TestFake_DoesNotTrackUpdatesOfInitialObjects.
//   - An unstructured object of a kind the scheme knows, created through the client, gets its UID
//     in the store only: the fake stores a typed copy, and the caller's object keeps no UID. Read
//     it back before handing it to ssa.Finalizer.
//     TestFake_LeavesACreatedUnstructuredObjectWithoutItsUID.
//   - Delete records an Update entry of manager "unknown" for metadata.deletionTimestamp.
//     TestFake_DeleteRecordsAnUpdateOfDeletionTimestamp.
//   - Only a /status apply is recorded under the subresource "status"; a /status Update or patch
//     is recorded under the main resource. TestFake_RecordsStatusUpdatesUnderTheMainResource.
//   - A /status apply without a UID to an object that is not there creates it, from the main
//     resource, with an empty status its applier owns there. The API server creates nothing: a
//     custom resource's /status answers 404, a Service's is refused by create validation
//     (docs/ssa-semantics.md, "A /status apply to an object that no longer exists").
//     TestFake_CreatesTheObjectOfAStatusApplyWithoutAUIDThatIsNotThere.
//
// What ssakit relies on and the fake, so set up, does as the server does: finalizers are a set
// owned item by item (rows 1 to 3; TestFinalizer_TwoFinalizersOfOneControllerBothStay,
// TestFinalizer_RemoveNamesALegacyUpdateThatAlsoOwnsTheFinalizer); an apply that lists no
// finalizers is merged before a terminating object is deleted, so the object stays while other
// finalizers, or other managers' claims on the released one, hold it, and goes with the last
// (rows 3, 13; TestFake_KeepsATerminatingObjectWhileAnotherFinalizerHoldsIt,
// TestFinalizer_RemoveFromATerminatingObjectNamesTheCoOwnerOfItsFinalizer,
// TestFake_DeletesATerminatingObjectWhenItsLastFinalizerIsReleased,
// TestReconcile_TwoFinalizersReleasedOneAfterTheOtherOnTheFakeKit), and an apply to a
// terminating object owns only what it sent, not the deletionTimestamp the fake copies into it
// (TestFake_AnApplyToATerminatingObjectOwnsOnlyWhatItSent); an apply carrying the UID of
// an object that is gone is a 409 "uid mismatch" and creates nothing (row 9;
// TestFinalizer_RemoveOnAnObjectDeletedSinceItWasReadCreatesNothing); one carrying another
// object's UID is a 422 (row 10; TestFinalizer_AddToAnObjectReplacedUnderItsNameIsErrReplaced);
// the answer is written back into the configuration (row 22); a /status apply honours the
// resourceVersion it carries.
package ssatest
