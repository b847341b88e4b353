package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/baton-dev/baton/hack/e2e/framework"
	"github.com/baton-dev/baton/pkg/api/v1alpha1"
)

const (
	ns        = "scale"
	className = "baton"
	podPort   = 8080
)

// world is the cluster under test and the two backend pods the probes
// route to.
type world struct {
	c      client.Client
	a, b   *framework.Pod
	serial int64
}

func newWorld(cp *framework.ControlPlane, root string) (*world, error) {
	w := &world{c: cp.Client}
	bin := filepath.Join(root, "bin", "baton-e2e-backend")
	var err error
	if w.a, err = framework.StartPod(240, "pod-a", bin, podPort); err != nil {
		return nil, err
	}
	if w.b, err = framework.StartPod(241, "pod-b", bin, podPort); err != nil {
		w.a.Delete()
		return nil, err
	}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: className},
			Spec: networkingv1.IngressClassSpec{Controller: "baton.dev/ingress-controller"}},
	} {
		if err := w.c.Create(background, obj); err != nil {
			w.close()
			return nil, err
		}
	}
	return w, nil
}

func (w *world) close() {
	w.a.Delete()
	w.b.Delete()
}

// load creates n Ingresses with two paths, n/10 Services with one slice of
// 50 endpoints (in the pod network, never dialled), the unwatched slices,
// and publishes each
// Ingress's status as Baton would, so that Baton starts with nothing to
// write. Eight writers work in parallel.
func (w *world) load(n int) error {
	services := max(n/10, 1)
	jobs := make(chan func() error, 64)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				if err := job(); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
				}
			}
		}()
	}
	for s := range services {
		name := fmt.Sprintf("svc%d", s)
		jobs <- func() error { return w.c.Create(background, service(name, 80)) }
		jobs <- func() error { return w.c.Create(background, slice(name, "-0", bulkAddrs(s))) }
	}
	for s := range unwatchedSlices {
		jobs <- func() error {
			sl := slice(fmt.Sprintf("unwatched%d", s), "", bulkAddrs(s))
			sl.Labels = nil // Baton's cache lists only slices of a Service
			return w.c.Create(background, sl)
		}
	}
	for i := range n {
		jobs <- func() error { return w.createIngress(i, services) }
	}
	close(jobs)
	wg.Wait()
	return first
}

func (w *world) createIngress(i, services int) error {
	svc := fmt.Sprintf("svc%d", i%services)
	ing := ingress(fmt.Sprintf("ing%d", i), fmt.Sprintf("h%d.example.com", i), "/", svc, 80)
	ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths, networkingv1.HTTPIngressPath{
		Path: "/api", PathType: ptr.To(networkingv1.PathTypeExact), Backend: serviceBackend(svc, 80)})
	if err := w.c.Create(background, ing); err != nil {
		return err
	}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}}
	return w.c.Status().Update(background, ing)
}

// bulkAddrs are 50 addresses of Service s in 10.244.200.0/21: inside the
// pod network, whose guard route makes them unreachable.
// unwatchedSlices are slices of 50 endpoints that Baton does not watch,
// for the churn that loads the API server without giving Baton work.
const unwatchedSlices = 100

func bulkAddrs(s int) []string {
	var addrs []string
	for e := range 50 {
		addrs = append(addrs, fmt.Sprintf("10.244.%d.%d", 200+s%8, 1+(s/8+e)%250))
	}
	return addrs
}

// probes creates the objects the measured changes touch, each routed on a
// host of its own.
func (w *world) probes() error {
	crt, key := w.certificate()
	objs := []client.Object{
		service("probe", 80), slice("probe", "-0", []string{w.a.IP}),
		service("epprobe", 80), slice("epprobe", "-0", nil),
		service("portsvc", 80), slice("portsvc", "-0", []string{w.a.IP}),
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tlsprobe"}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key}},
		&v1alpha1.Upstream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wprobe"},
			Spec: v1alpha1.UpstreamSpec{Endpoints: weights(1, 1, w),
				LoadBalancing: v1alpha1.LoadBalancing{Policy: v1alpha1.PolicyWeightedRoundRobin}}},
		ingress("pathprobe", "path.probe", "/v0", "probe", 80),
		ingress("portprobe", "port.probe", "/", "portsvc", 81),
		ingress("epprobe", "ep.probe", "/", "epprobe", 80),
		ingress("tlsprobe", "tls.probe", "/", "probe", 80),
		ingress("wprobe", "w.probe", "/", "", 0),
	}
	tlsIng := objs[len(objs)-2].(*networkingv1.Ingress)
	tlsIng.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"tls.probe"}, SecretName: "tlsprobe"}}
	wIng := objs[len(objs)-1].(*networkingv1.Ingress)
	wIng.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
		APIGroup: ptr.To(v1alpha1.GroupName), Kind: v1alpha1.UpstreamKind, Name: "wprobe"}}
	for _, obj := range objs {
		if err := w.c.Create(background, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

func weights(a, b int32, w *world) []v1alpha1.StaticEndpoint {
	return []v1alpha1.StaticEndpoint{{Address: w.a.IP, Port: podPort, Weight: a}, {Address: w.b.IP, Port: podPort, Weight: b}}
}

// certificate makes a new self-signed pair for tls.probe, each with the
// next serial, so a rotation is visible in the handshake.
func (w *world) certificate() (crt, key []byte) {
	w.serial++
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(w.serial), Subject: pkix.Name{CommonName: "tls.probe"},
		DNSNames: []string{"tls.probe"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func service(name string, port int32) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{
			{Name: "http", Port: port, TargetPort: intstr.FromInt32(podPort)}}}}
}

func slice(svc, suffix string, addrs []string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + suffix,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(podPort))}}}
	setEndpoints(s, addrs)
	return s
}

func setEndpoints(s *discoveryv1.EndpointSlice, addrs []string) {
	s.Endpoints = nil
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
}

func ingress(name, host, path, svc string, port int32) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To(className), Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: path, PathType: ptr.To(networkingv1.PathTypePrefix), Backend: serviceBackend(svc, port)}}}}}}}}
}

func serviceBackend(name string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name,
		Port: networkingv1.ServiceBackendPort{Number: port}}}
}
