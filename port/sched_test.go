package port

import "runtime"

func runtimeGosched() { runtime.Gosched() }
