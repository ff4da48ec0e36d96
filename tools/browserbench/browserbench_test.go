package browserbench

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

func TestTexts(t *testing.T) {
	for _, n := range []int{3, 11, 32} {
		if _, err := texts(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := texts(2); err == nil {
		t.Error("2 tokens accepted")
	}
}

// TestRun runs the benchmark (about 20 s on two cores); it only runs when
// PATCHLAB_BROWSERBENCH is set (PATCHLAB_BROWSERBENCH_WORKERS and
// PATCHLAB_BROWSERBENCH_RUNS set Options.Workers and Options.Runs), e.g.
//
//	PATCHLAB_BROWSERBENCH=1 go test ./tools/browserbench -run Run -v
func TestRun(t *testing.T) {
	if os.Getenv("PATCHLAB_BROWSERBENCH") == "" {
		t.Skip("set PATCHLAB_BROWSERBENCH=1 to run the browser benchmark")
	}
	if _, err := os.Stat(FindChromium()); err != nil {
		t.Skipf("no Chromium (%s)", FindChromium())
	}
	workers, _ := strconv.Atoi(os.Getenv("PATCHLAB_BROWSERBENCH_WORKERS"))
	runs, _ := strconv.Atoi(os.Getenv("PATCHLAB_BROWSERBENCH_RUNS"))
	res, err := Run(context.Background(), Options{Log: os.Stderr, Workers: workers, Runs: runs})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(res)
	t.Logf("%s", out)
	if res["cells"] != 132 {
		t.Errorf("cells = %v, want 132", res["cells"])
	}
}
