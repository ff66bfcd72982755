package plugin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make plugin builds kubectl_complete-ssakit next to the plugin, and a real kubectl completes
// `kubectl ssakit` through it.
func TestCompletion_KubectlCompletesThePluginThroughMakePluginsExecutable(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl") // the project's, put first on PATH by TestMain
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	build := exec.CommandContext(t.Context(), "make", "-C", filepath.Join("..", "..", ".."), "plugin", "BIN="+dir)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make plugin: %v\n%s", err, out)
	}
	complete := exec.CommandContext(t.Context(), kubectl, "__complete", "ssakit", "mig")
	complete.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := complete.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "migrate\t") {
		t.Errorf("kubectl __complete ssakit mig:\n%s", out)
	}
}
