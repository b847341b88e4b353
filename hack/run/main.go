// Command run is `make run`: a throwaway kube-apiserver + etcd, two demo
// backends as network-namespace pods, the samples from config/samples, and
// Baton, until Ctrl-C, which removes everything again.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/baton-dev/baton/hack/e2e/framework"
)

func main() {
	root := flag.String("root", ".", "repository root (bin/, config/)")
	httpAddr := flag.String("http", "127.0.0.1:18080", "Baton's HTTP address")
	httpsAddr := flag.String("https", "127.0.0.1:18443", "Baton's HTTPS address")
	flag.Parse()
	if err := run(*root, *httpAddr, *httpsAddr); err != nil {
		log.Fatal(err)
	}
}

func run(root, httpAddr, httpsAddr string) error {
	if err := framework.RequireRoot(); err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	release, err := framework.ClaimPodNetwork()
	if err != nil {
		return err
	}
	defer release()
	cp, err := framework.StartControlPlane(root)
	if err != nil {
		return err
	}
	defer cp.Stop()
	for i, name := range []string{"demo-a", "demo-b"} {
		pod, err := framework.StartPod(i+1, name, filepath.Join(bin, "baton-e2e-backend"), 8080)
		if err != nil {
			return err
		}
		defer pod.Delete()
	}
	kubectl := exec.Command(filepath.Join(bin, "kubectl"), "--kubeconfig", cp.Kubeconfig, "apply", "-f", filepath.Join(root, "config", "samples"))
	kubectl.Stdout, kubectl.Stderr = os.Stdout, os.Stderr
	if err := kubectl.Run(); err != nil {
		return fmt.Errorf("apply samples: %w", err)
	}
	baton, err := framework.StartBaton(framework.BatonOptions{Binary: filepath.Join(bin, "baton"),
		Kubeconfig: cp.Kubeconfig, HTTPAddr: httpAddr, HTTPSAddr: httpsAddr,
		Args: []string{"--publish-status-address", "127.0.0.1"}})
	if err != nil {
		return err
	}
	defer baton.Kill()
	printTour(cp.Kubeconfig, bin, httpAddr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		fmt.Println("\ncleaning up")
	case <-baton.Exited():
		fmt.Println("baton exited:\n" + baton.Logs())
	}
	return nil
}

func printTour(kubeconfig, bin, httpAddr string) {
	fmt.Printf(`
Baton is serving on http://%[3]s

  export KUBECONFIG=%[1]s
  export PATH=%[2]s:$PATH
  kubectl get ingress,upstreams -A

  curl -H 'Host: demo.baton.test' http://%[3]s/hello     # Service backend, round robin over demo-a and demo-b
  curl -H 'Host: api.baton.test'  http://%[3]s/hello     # Upstream backend, weighted 3:1
  curl -i http://%[3]s/                                   # no rule matches: 404

Edit config/samples or apply your own Ingresses and Upstreams; Baton picks
them up without a reload. Press Ctrl-C to stop and remove everything.
`, kubeconfig, bin, httpAddr)
}
