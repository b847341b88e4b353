// Command pause is the pod sandbox process: it holds the pod's namespaces
// open until SIGTERM or SIGINT, like Kubernetes' own pause binary, but
// built from Go so the cluster needs no registry. Pods here do not share a
// PID namespace, so it has no zombies to reap.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
