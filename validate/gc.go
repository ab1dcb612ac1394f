package validate

import "runtime/debug"

// TuneGC sets the garbage collector for a korthops run, which is short and allocates a lot while
// building: collecting less often (GOGC=300) halves validation time on a large fleet, and a soft
// memory limit of 160 MiB makes the collector work harder only when the heap nears it, which keeps
// the peak resident memory of a 100-cluster fleet near 200 MB. It returns a function that restores
// the previous settings. The command and the benchmarks call it, so both measure the same thing.
func TuneGC() (restore func()) {
	percent := debug.SetGCPercent(300)
	limit := debug.SetMemoryLimit(160 << 20)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}
