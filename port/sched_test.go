package port

import "runtime"

func runtimeGosched() { runtime.Gosched() }

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
