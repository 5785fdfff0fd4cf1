// Package ca is herd's private certificate authority for its mTLS agents:
// an ECDSA P-256 root that signs agent certificates (server side, named
// by the hosts they answer for) and controller certificates (client side,
// the ones allowed to run commands). A certificate's role is a URI SAN,
// herd:agent or herd:controller, alongside the matching extended key
// usage, so an agent's certificate cannot stand in for a controller's.
//
// Files in a CA directory: ca.crt, ca.key, and NAME.crt, NAME.key per
// issued certificate, PEM-encoded; keys are written 0600.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role is what a certificate allows its holder to be.
type Role string

// The roles.
const (
	Agent      Role = "agent"      // serves commands to controllers
	Controller Role = "controller" // may run commands on agents
)

// roleURI is the URI SAN that marks a role: herd:agent, herd:controller.
func (r Role) uri() *url.URL { return &url.URL{Scheme: "herd", Opaque: string(r)} }

// Default lifetimes.
const (
	CALifetime   = 10 * 365 * 24 * time.Hour
	LeafLifetime = 365 * 24 * time.Hour
)

// File names in a CA directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// clockSkew backdates NotBefore so that hosts whose clocks lag a little
// accept a fresh certificate.
const clockSkew = 5 * time.Minute

// Init creates a CA in dir (made if missing) valid for lifetime (0:
// CALifetime), named name. It refuses to overwrite an existing CA.
func Init(dir, name string, lifetime time.Duration) error {
	if lifetime <= 0 {
		lifetime = CALifetime
	}
	if name == "" {
		name = "herd CA"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{CACertFile, CAKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return fmt.Errorf("ca: %s already exists: refusing to replace a CA", filepath.Join(dir, f))
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"herd"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return writePair(dir, "ca", der, key)
}

// Request describes a certificate to issue.
type Request struct {
	Role Role
	// Name is the certificate's common name and first SAN: for an agent
	// the host name or address controllers dial, for a controller who it is.
	Name string
	// SANs are further names (DNS names or IP addresses) an agent answers
	// for; unused for controllers.
	SANs      []string
	NotBefore time.Time     // zero: now, less a little clock skew
	Lifetime  time.Duration // zero: LeafLifetime
}

// Issued is a signed certificate and its key.
type Issued struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
}

// Authority is a loaded CA that signs requests.
type Authority struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// Load reads the CA in dir.
func Load(dir string) (*Authority, error) {
	cert, err := ReadCert(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	key, err := ReadKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("ca: %s is not a CA certificate", filepath.Join(dir, CACertFile))
	}
	return &Authority{Cert: cert, key: key}, nil
}

// Issue signs a new key pair for req. The certificate never outlives the CA.
func (a *Authority) Issue(req Request) (*Issued, error) {
	if req.Name == "" {
		return nil, errors.New("ca: a certificate needs a name")
	}
	if req.Role != Agent && req.Role != Controller {
		return nil, fmt.Errorf("ca: unknown role %q", req.Role)
	}
	if req.Lifetime <= 0 {
		req.Lifetime = LeafLifetime
	}
	if req.NotBefore.IsZero() {
		req.NotBefore = time.Now().Add(-clockSkew)
	}
	notAfter := req.NotBefore.Add(req.Lifetime)
	if notAfter.After(a.Cert.NotAfter) {
		notAfter = a.Cert.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.Name, Organization: []string{"herd"}, OrganizationalUnit: []string{string(req.Role)}},
		NotBefore:      req.NotBefore,
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		URIs:           []*url.URL{req.Role.uri()},
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: a.Cert.SubjectKeyId,
	}
	if req.Role == Agent {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, n := range append([]string{req.Name}, req.SANs...) {
			if err := addSAN(tmpl, n); err != nil {
				return nil, err
			}
		}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		Cert:    cert,
	}, nil
}

// addSAN adds n as an IP or DNS SAN, once.
func addSAN(t *x509.Certificate, n string) error {
	n = strings.TrimSpace(n)
	if ip := net.ParseIP(n); ip != nil {
		for _, have := range t.IPAddresses {
			if have.Equal(ip) {
				return nil
			}
		}
		t.IPAddresses = append(t.IPAddresses, ip)
		return nil
	}
	if n == "" || strings.ContainsAny(n, " /:@") {
		return fmt.Errorf("ca: %q is neither a host name nor an IP address", n)
	}
	for _, have := range t.DNSNames {
		if have == n {
			return nil
		}
	}
	t.DNSNames = append(t.DNSNames, n)
	return nil
}

// Write stores an issued certificate as dir/file.crt and dir/file.key,
// refusing to overwrite either.
func (is *Issued) Write(dir, file string) error {
	for _, ext := range []string{".crt", ".key"} {
		if _, err := os.Stat(filepath.Join(dir, file+ext)); err == nil {
			return fmt.Errorf("ca: %s already exists", filepath.Join(dir, file+ext))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, file+".key"), is.KeyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, file+".crt"), is.CertPEM, 0o644)
}

// RoleOf returns the role a certificate's URI SAN marks, or "" for none
// (or for a certificate marking more than one role).
func RoleOf(c *x509.Certificate) Role {
	var role Role
	for _, u := range c.URIs {
		if u.Scheme != "herd" {
			continue
		}
		r := Role(u.Opaque)
		if r != Agent && r != Controller || role != "" && role != r {
			return ""
		}
		role = r
	}
	return role
}

// ReadCert reads one PEM certificate.
func ReadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("ca: %s holds no PEM certificate", path)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// ReadKey reads a PEM EC (or PKCS#8) private key.
func ReadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("ca: %s holds no PEM key", path)
	}
	if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("ca: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("ca: %s: not a signing key", path)
	}
	return s, nil
}

// Pool reads a CA certificate file into a pool for verification.
func Pool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca: %s holds no PEM certificate", path)
	}
	return p, nil
}

func writePair(dir, file string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	is := &Issued{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
	return is.Write(dir, file)
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// keyID is a subject key identifier: a hash of the public key.
func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:20]
}
