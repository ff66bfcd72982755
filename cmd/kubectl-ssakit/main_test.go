package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// execute runs the plugin's root command with args, as main does, and returns its exit code and
// stderr. Nothing here reaches a server: each case fails before anything is read.
func execute(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	root := newRootCommand(streams)
	root.SetArgs(args)
	return run(root, streams), errOut.String()
}

func TestMigrate_RefusesFlagsThatCannotWork(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no controller":                {[]string{"--finalizer", "example.com/cleanup"}, "--controller NAME"},
		"both controller and owner":    {[]string{"--controller", "c", "--field-owner", "o", "--finalizer", "example.com/cleanup"}, "not both"},
		"no finalizer":                 {[]string{"--controller", "c"}, "--finalizer NAME"},
		"former name is the finalizer": {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--former-name", "example.com/cleanup"}, `--former-name "example.com/cleanup" is the --finalizer itself`},
		"negative progress":            {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--progress-every", "-1s"}, "negative"},
		"invalid legacy manager":       {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--legacy-manager", "bad\tname"}, "is not a field manager name"},
		"own manager as legacy":        {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--legacy-manager", "c/finalizer/example.com/cleanup"}, "the finalizer's own field manager"},
		"no concurrency":               {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--concurrency", "0"}, "--concurrency 0"},
		"no rate":                      {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--qps", "0"}, "--qps 0"},
		"no burst":                     {[]string{"--controller", "c", "--finalizer", "example.com/cleanup", "--burst", "0"}, "--burst 0"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stderr := execute(append([]string{"migrate", "widgets", "--kubeconfig", "/nonexistent"}, tc.args...)...)

			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit code %d, stderr %q; want 2 and a message containing %q", code, stderr, tc.want)
			}
		})
	}
}

func TestOutput_RefusesAnUnknownFormat(t *testing.T) {
	code, stderr := execute("blame", "widgets", "w", "-o", "xml")

	if code != 2 || !strings.Contains(stderr, `unknown output format "xml"`) {
		t.Errorf("exit code %d, stderr %q", code, stderr)
	}
}

// The server sets a Pod's deletionTimestamp to the end of its grace period: its termination
// started that long before, and is never negative.
func TestTerminatingFor_CountsFromTheStartOfTheGracePeriod(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	hour := int64(3600)
	for name, tc := range map[string]struct {
		deletion time.Time
		grace    *int64
		want     time.Duration
	}{
		"no grace period":           {now.Add(-time.Minute), nil, time.Minute},
		"grace period under way":    {now.Add(59 * time.Minute), &hour, time.Minute},
		"deletion timestamp future": {now.Add(time.Hour), nil, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, terminatingFor(now, tc.deletion, tc.grace)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// finalizers shows each name's class as ssa.CheckFinalizerName gives it, Kubernetes' own names as
// reserved, and what is wrong with any name that is not qualified.
func TestClassify_ShowsTheClassOfEachNameAndWhatIsWrongWithIt(t *testing.T) {
	for name, tc := range map[string]struct {
		class   ssa.NameClass
		problem string
	}{
		"example.com/cleanup":  {ssa.NameQualified, ""},
		"widget-finalizer":     {ssa.NameUnqualified, `metadata.finalizers: "widget-finalizer": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers`},
		"orphan":               {ssa.NameReserved, "it is reserved for Kubernetes itself (garbage collection and namespace deletion act on it); use a domain-qualified name such as example.com/cleanup"},
		"example.com/clean up": {ssa.NameInvalid, "name part must consist of alphanumeric characters"},
	} {
		t.Run(name, func(t *testing.T) {
			class, problem := classify(name)

			if class != tc.class || !strings.HasPrefix(problem, tc.problem) || (tc.problem == "") != (problem == "") {
				t.Errorf("classify(%q) = %q, %q; want %q and a problem starting with %q", name, class, problem, tc.class, tc.problem)
			}
		})
	}
}

// describe says "put on" only when the migration puts the finalizer on.
func TestDescribe_NamesTheStepsInTheOrderTheyHappen(t *testing.T) {
	for name, tc := range map[string]struct {
		m    ssa.Migration
		want string
	}{
		"rename":           {ssa.Migration{Apply: true, PutOn: true, Release: []string{"old"}}, `put "new" on, release "old"`},
		"both names":       {ssa.Migration{Apply: true, TakeFrom: []string{"legacy"}, Release: []string{"old"}}, `apply "new", take "new" over from "legacy", release "old"`},
		"takeover":         {ssa.Migration{TakeFrom: []string{"a", "b"}}, `take "new" over from "a", "b"`},
		"interrupted name": {ssa.Migration{Release: []string{"old"}}, `release "old"`},
	} {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, describe(tc.m, "new")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// Every command sends at kubectl's rate (50 requests/s, bursts of 300), not client-go's default
// (5/s), unless --qps and --burst say otherwise.
func TestRateLimits_AreKubectlsUnlessSet(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: c
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args  []string
		qps   float32
		burst int
	}{
		"defaults": {nil, 50, 300},
		"set":      {[]string{"--qps", "500", "--burst", "1000"}, 500, 1000},
	} {
		t.Run(name, func(t *testing.T) {
			flags, rate := configFlags()
			fs := pflag.NewFlagSet("kubectl-ssakit", pflag.ContinueOnError)
			flags.AddFlags(fs)
			rate.addTo(fs)
			if err := fs.Parse(append([]string{"--kubeconfig", kubeconfig}, tc.args...)); err != nil {
				t.Fatal(err)
			}

			config, err := flags.ToRESTConfig()
			if err != nil {
				t.Fatal(err)
			}

			if d := cmp.Diff([]any{tc.qps, tc.burst}, []any{config.QPS, config.Burst}); d != "" {
				t.Errorf("QPS and burst (-want +got):\n%s", d)
			}
		})
	}
}

// stuckNamespace is a Namespace as read, terminating on two spec.finalizers.
var stuckNamespace = &unstructured.Unstructured{Object: map[string]any{
	"apiVersion": "v1", "kind": "Namespace",
	"metadata": map[string]any{"name": "prod", "resourceVersion": "42"},
	"spec":     map[string]any{"finalizers": []any{"kubernetes", "example.com/keep"}},
}}

// A release command removes the one finalizer it names, and only while it is where it was found
// (a JSON patch's test; for a Namespace's spec.finalizers, which go through its finalize
// subresource with kubectl alone, the resourceVersion read). Names are quoted for sh.
func TestReleaseCommand_RemovesExactlyTheStuckFinalizer(t *testing.T) {
	widget := objectJSON{APIVersion: "example.com/v1", Kind: "Widget", Namespace: "prod", Name: "w"}
	for name, tc := range map[string]struct {
		object    objectJSON
		field     string
		index     int
		finalizer string
		want      string
	}{
		"custom resource": {widget, metadataFinalizers, 2, "example.com/cleanup",
			`kubectl patch widget.example.com/w -n prod --type=json -p '[{"op":"test","path":"/metadata/finalizers/2","value":"example.com/cleanup"},{"op":"remove","path":"/metadata/finalizers/2"}]'`},
		"quote in the name": {objectJSON{APIVersion: "v1", Kind: "ConfigMap", Namespace: "prod", Name: "c"}, metadataFinalizers, 0, "it's",
			`kubectl patch configmap/c -n prod --type=json -p '[{"op":"test","path":"/metadata/finalizers/0","value":"it'\''s"},{"op":"remove","path":"/metadata/finalizers/0"}]'`},
		"namespace spec": {objectJSON{APIVersion: "v1", Kind: "Namespace", Name: "prod"}, specFinalizers, 0, "kubernetes",
			`echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod","resourceVersion":"42"},"spec":{"finalizers":["example.com/keep"]}}' | kubectl replace --raw /api/v1/namespaces/prod/finalize -f -`},
	} {
		t.Run(name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, releaseCommand(stuckNamespace, tc.object, tc.field, tc.index, tc.finalizer)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// --dry-run takes kubectl's values, a bare --dry-run is client, and a bad value gets kubectl's
// error, not strconv's.
func TestMigrate_DryRunTakesKubectlsValues(t *testing.T) {
	for name, tc := range map[string]struct {
		args    []string
		want    dryRun
		wantErr string
	}{
		"default":             {nil, "", ""},
		"bare":                {[]string{"--dry-run"}, dryRunClient, ""},
		"client":              {[]string{"--dry-run=client"}, dryRunClient, ""},
		"server":              {[]string{"--dry-run=server"}, dryRunServer, ""},
		"none":                {[]string{"--dry-run=none"}, dryRunNone, ""},
		"deprecated true":     {[]string{"--dry-run=true"}, dryRunClient, ""},
		"deprecated false":    {[]string{"--dry-run=false"}, dryRunNone, ""},
		"bad value":           {[]string{"--dry-run=serve"}, "", `invalid dry-run value (serve). Must be "none", "server", or "client"`},
		"bare before a value": {[]string{"--dry-run", "server"}, dryRunClient, ""},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := newMigrateCommand(nil, genericiooptions.IOStreams{})
			err := cmd.ParseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			value, ok := cmd.Flags().Lookup("dry-run").Value.(*dryRun)
			if !ok || *value != tc.want {
				t.Errorf("--dry-run is %v; want %q", cmd.Flags().Lookup("dry-run").Value, tc.want)
			}
		})
	}
}

// A 403 names the missing permission and a 422 the refusing rule, and neither advises to run
// again; other errors do.
func TestFailure_SaysWhatIsMissingInsteadOfRunAgain(t *testing.T) {
	widgets := schema.GroupResource{Group: "example.com", Resource: "widgets"}
	forbidden := apierrors.NewForbidden(widgets, "w", errors.New(`User "reader" cannot patch resource "widgets"`))
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: "example.com", Kind: "Widget"}, "w", field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"), "denied by policy no-cleanup")})
	for name, tc := range map[string]struct {
		errs         []error
		want         []string
		wantRunAgain bool
	}{
		"403":      {[]error{fmt.Errorf("migrate: %w", forbidden), forbidden}, []string{"2 object(s) failed", "(403)", `cannot patch resource "widgets"`, "kubectl auth can-i patch"}, false},
		"422":      {[]error{invalid}, []string{"(422)", "denied by policy no-cleanup", "admission policy or webhook"}, false},
		"conflict": {[]error{apierrors.NewConflict(widgets, "w", errors.New("changed"))}, []string{"1 for other reasons"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			got := failure(tc.errs, dryRunNone, "widgets/finalizer/example.com/cleanup").Error()
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("%q does not say %q", got, want)
				}
			}
			if strings.Contains(got, "run the command again") != tc.wantRunAgain {
				t.Errorf("%q: advises to run again: %v, want %v", got, !tc.wantRunAgain, tc.wantRunAgain)
			}
		})
	}
}

// An admission policy's or webhook's refusal, whatever its code, names the rule, the kubectl
// command that shows it and the writes it has to let through, once for all the objects it
// refuses, and is not taken for a missing permission.
func TestFailure_AnAdmissionRefusalNamesTheRuleAndHowToReadIt(t *testing.T) {
	refusal := func(name string, code int32, reason metav1.StatusReason, denial string) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: code, Reason: reason, Message: `widgets.example.com "` + name + `" is forbidden: ` + denial,
		}}
	}
	const policy = "ValidatingAdmissionPolicy 'no-finalizers' with binding 'no-finalizers-prod' denied request: finalizers are the controller's"
	const webhook = `admission webhook "finalizers.example.com" denied the request: finalizers are the controller's`
	readPolicy := "kubectl get validatingadmissionpolicy no-finalizers -o yaml and kubectl get validatingadmissionpolicybinding no-finalizers-prod -o yaml"
	manager := `field manager "widgets/finalizer/example.com/cleanup"`
	for name, tc := range map[string]struct {
		errs []error
		want []string
	}{
		"a policy's 422": {
			[]error{refusal("a", 422, metav1.StatusReasonInvalid, policy), refusal("b", 422, metav1.StatusReasonInvalid, policy)},
			[]string{"2 object(s) failed: admission refuses migrate's writes (422): " + policy + ". ", readPolicy, manager},
		},
		"a policy's 403": {
			[]error{refusal("a", 403, metav1.StatusReasonForbidden, policy)},
			[]string{"(403): " + policy + ". ", readPolicy, manager},
		},
		"a webhook's": {
			[]error{refusal("a", 400, metav1.StatusReasonBadRequest, webhook)},
			[]string{"(400): " + webhook + ". ", "kubectl get validatingwebhookconfigurations", "(the configuration that lists finalizers.example.com)", manager},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := failure(tc.errs, dryRunNone, "widgets/finalizer/example.com/cleanup").Error()
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("%q does not say %q", got, want)
				}
			}
			for _, wrong := range []string{"kubectl auth can-i", "run the command again", `"a" is forbidden`} {
				if strings.Contains(got, wrong) {
					t.Errorf("%q says %q", got, wrong)
				}
			}
		})
	}
}

// Every subcommand takes TYPE/NAME, and a wrong number of arguments gets the usage line, as
// kubectl's commands do.
func TestArgs_AWrongArityShowsTheUsage(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"blame of a type alone": {[]string{"blame", "configmaps"}, `"configmaps" is a type`},
		"blame of nothing":      {[]string{"blame"}, "TYPE NAME... or TYPE/NAME..."},
		"finalizers of nothing": {[]string{"finalizers"}, "name a type"},
		"overlaps of nothing":   {[]string{"overlaps"}, "name a type"},
		"migrate of nothing":    {[]string{"migrate", "--controller", "c", "--finalizer", "example.com/cleanup"}, "name a type"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stderr := execute(append(tc.args, "--kubeconfig", "/nonexistent")...)

			usage := "Usage:\n  kubectl ssakit " + tc.args[0] + " ("
			if code != 2 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, usage) || !strings.Contains(stderr, "See 'kubectl ssakit "+tc.args[0]+" -h'") {
				t.Errorf("exit code %d, stderr %q; want 2, %q and the usage", code, stderr, tc.want)
			}
		})
	}
}
