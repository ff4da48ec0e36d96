package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	code, out, errs := patchlab(t, "tokenize", michelle)
	want := "Input: " + michelle + "\n" +
		"Tokenized input: [48736 5437 373 257 1353 12 1662 354 3710 13 16738]\n" +
		"Number of input tokens: 11\n" +
		"Detokenized input as strings: Michelle/ Jones/ was/ a/ top/-/not/ch/ student/./ Michelle\n"
	if code != 0 || out != want {
		t.Errorf("status %d, stderr %q, output\n%s\nwant\n%s", code, errs, out, want)
	}
	code, out, _ = patchlab(t, "tokenize", "-json", michelle)
	want = `{"ids":[48736,5437,373,257,1353,12,1662,354,3710,13,16738],"tokens":["Michelle"," Jones"," was"," a"," top","-","not","ch"," student","."," Michelle"]}` + "\n"
	if code != 0 || out != want {
		t.Errorf("-json: status %d, output %q, want %q", code, out, want)
	}
	// Flags after the text, and the text from a file.
	file := filepath.Join(t.TempDir(), "t.txt")
	if err := os.WriteFile(file, []byte(michelle), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, out2, _ := patchlab(t, "tokenize", "-file", file, "-json"); out2 != out {
		t.Errorf("-file: %q, want %q", out2, out)
	}
	if _, out2, _ := patchlab(t, "tokenize", michelle, "-json"); out2 != out {
		t.Errorf("flag after the text: %q, want %q", out2, out)
	}
	if _, out2, _ := patchlab(t, "tokenize", "-json", "--", "-5 degrees"); !strings.Contains(out2, `"-`) {
		t.Errorf("text after --: %q", out2)
	}
}

func TestTop(t *testing.T) {
	code, out, errs := patchlab(t, "top", "-model", tinyModel, "-k", "3", michelle)
	if code != 0 {
		t.Fatalf("status %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	table := lines[len(lines)-5:]
	if table[0] != "| Rank | Token index | Token       | Probability |" || !strings.HasPrefix(table[2], "| 1    | 233         | ") {
		t.Errorf("table:\n%s", strings.Join(table, "\n"))
	}
	for _, l := range table {
		if len([]rune(l)) != len([]rune(table[0])) {
			t.Errorf("unaligned row %q", l)
		}
	}
	if !strings.HasSuffix(table[4], "| 0.0365      |") {
		t.Errorf("third row %q, want probability 0.0365", table[4])
	}
}
