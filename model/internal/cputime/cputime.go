// Package cputime reads the processor time this process has used, for
// benchmarks that report work per CPU second beside wall time: other
// processes on a busy machine inflate wall time but not this.
package cputime
