package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// identity is a client or serving certificate signed by the cluster CA.
type identity struct {
	file   string // pki/<file>.crt and .key
	cn     string
	orgs   []string
	server bool
}

var identities = []identity{
	{file: "apiserver", cn: "kube-apiserver", server: true},
	{file: "apiserver-kubelet-client", cn: "kube-apiserver-kubelet-client", orgs: []string{"system:masters"}},
	{file: "admin", cn: "baton-cluster-admin", orgs: []string{"system:masters"}},
	{file: "kubelet", cn: "system:node:" + NodeName, orgs: []string{"system:nodes"}},
	{file: "controller-manager", cn: "system:kube-controller-manager"},
	{file: "scheduler", cn: "system:kube-scheduler"},
	{file: "kube-proxy", cn: "system:kube-proxy"},
}

// ensurePKI creates the CA, every identity and the service-account key
// once; later runs keep them so kubeconfigs handed out stay valid.
func (c *Cluster) ensurePKI() error {
	if err := os.MkdirAll(c.state("pki"), 0o700); err != nil {
		return err
	}
	ca, caKey, err := c.ensureCA()
	if err != nil {
		return err
	}
	for _, id := range identities {
		if exists(c.state("pki/" + id.file + ".crt")) {
			continue
		}
		if err := c.issue(id, ca, caKey); err != nil {
			return fmt.Errorf("certificate %s: %w", id.file, err)
		}
	}
	if exists(c.state("pki/sa.key")) {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(c.state("pki/sa.pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	return writePEM(c.state("pki/sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

func (c *Cluster) ensureCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if !exists(c.state("pki/ca.crt")) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		tmpl := template("baton-cluster-ca", nil)
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return nil, nil, err
		}
		if err := writeKeyPair(c.state("pki/ca"), der, key); err != nil {
			return nil, nil, err
		}
	}
	return loadKeyPair(c.state("pki/ca"))
}

func (c *Cluster) issue(id identity, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := template(id.cn, id.orgs)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if id.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
		tmpl.IPAddresses = []net.IP{net.ParseIP(NodeIP), net.ParseIP("10.96.0.1"), net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writeKeyPair(c.state("pki/"+id.file), der, key)
}

func template(cn string, orgs []string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
	}
}

func writeKeyPair(base string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(base+".key", "EC PRIVATE KEY", keyDER); err != nil {
		return err
	}
	return writePEM(base+".crt", "CERTIFICATE", der)
}

func loadKeyPair(base string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(base + ".crt")
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New(base + ": no PEM block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

func writePEM(path, kind string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
