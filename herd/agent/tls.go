package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/cport/cport/herd/ca"
)

// ServerTLS returns the agent's TLS configuration: its certificate, and a
// client certificate required, signed by caFile's CA, valid, for client
// authentication (crypto/tls checks these, and tells the controller which
// failed by its alert) and with the controller role (VerifyControllerRole).
func ServerTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := ca.Pool(caFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates:          []tls.Certificate{cert},
		MinVersion:            tls.VersionTLS13,
		ClientAuth:            tls.RequireAndVerifyClientCert,
		ClientCAs:             pool,
		VerifyPeerCertificate: VerifyControllerRole,
	}, nil
}

// RefusedError is why a controller's certificate was refused.
type RefusedError struct {
	Subject string // the certificate's common name, if any
	Reason  string
}

func (e *RefusedError) Error() string {
	if e.Subject == "" {
		return "client certificate refused: " + e.Reason
	}
	return fmt.Sprintf("client certificate %q refused: %s", e.Subject, e.Reason)
}

// VerifyControllerRole is a tls.Config.VerifyPeerCertificate that refuses
// a client whose verified certificate lacks the controller role.
func VerifyControllerRole(_ [][]byte, chains [][]*x509.Certificate) error {
	if len(chains) == 0 || len(chains[0]) == 0 {
		return &RefusedError{Reason: "no verified client certificate"}
	}
	leaf := chains[0][0]
	if ca.RoleOf(leaf) != ca.Controller {
		return &RefusedError{Subject: leaf.Subject.CommonName, Reason: fmt.Sprintf("carries the %s role, not controller", roleName(leaf))}
	}
	return nil
}

// refused reports whether a handshake failed because the agent refused
// the client's certificate (or got none), rather than on the way.
func refused(err error) bool {
	var re *RefusedError
	var verr *tls.CertificateVerificationError
	return errors.As(err, &re) || errors.As(err, &verr) || err.Error() == errNoCertificate
}

// errNoCertificate is crypto/tls's text for a client that sent no certificate.
const errNoCertificate = "tls: client didn't provide a certificate"

// refusal says why a handshake failed, for the log.
func refusal(err error, handshakeTimeout time.Duration) string {
	var re *RefusedError
	var verr *tls.CertificateVerificationError
	var op *net.OpError
	switch {
	case errors.As(err, &re):
		return re.Error()
	case errors.As(err, &verr):
		return explainVerify(verr)
	case errors.As(err, &op) && op.Op == "remote error":
		return "the controller refused the agent's certificate: " + err.Error()
	case isTimeout(err):
		return fmt.Sprintf("no TLS handshake within %v: %v", handshakeTimeout, err)
	case err.Error() == errNoCertificate:
		return "client certificate refused: none given"
	}
	return err.Error()
}

// explainVerify words crypto/tls's verdict on a client certificate.
func explainVerify(verr *tls.CertificateVerificationError) string {
	re := &RefusedError{Reason: verr.Err.Error()}
	if len(verr.UnverifiedCertificates) == 0 {
		return re.Error()
	}
	leaf := verr.UnverifiedCertificates[0]
	re.Subject = leaf.Subject.CommonName
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(verr.Err, &unknown):
		re.Reason = fmt.Sprintf("signed by an unknown CA (issuer %q), not this agent's", leaf.Issuer.CommonName)
	case errors.As(verr.Err, &invalid) && invalid.Reason == x509.Expired:
		re.Reason = fmt.Sprintf("outside its validity period (%s to %s)",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case errors.As(verr.Err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		re.Reason = fmt.Sprintf("not valid for client authentication (a %s certificate cannot act as a controller)", roleName(leaf))
	}
	return re.Error()
}

func roleName(c *x509.Certificate) string {
	if r := ca.RoleOf(c); r != "" {
		return string(r)
	}
	return "role-less"
}
