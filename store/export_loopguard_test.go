package store

// LoopGuardCounted is loopGuardCounted, for the test that holds it to its index.
func LoopGuardCounted() string { return loopGuardCounted() }
