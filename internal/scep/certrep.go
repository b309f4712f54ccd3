package scep

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// The SCEP attributes of RFC 8894 §3.2.1.
var (
	oidMessageType    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 2}
	oidPKIStatus      = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 3}
	oidFailInfo       = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 4}
	oidSenderNonce    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 5}
	oidRecipientNonce = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 6}
	oidTransactionID  = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 7}

	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidAES128CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
)

// certRep is a CertRep reply (RFC 8894 §3.3.2) to req: signed by the RA with SHA-256
// and, on success, carrying the issued certificate as a degenerate certs-only
// SignedData enveloped to the requester's (self-signed) certificate with AES-128-CBC,
// the algorithms the "SCEPStandard" capability promises (§3.5.2).
//
// It is built here rather than with scep.PKIMessage.Success and Fail, which take the
// digest and cipher from smallstep/pkcs7's package-wide defaults (SHA-1, single DES).
func certRep(req *scep.PKIMessage, requester *x509.Certificate, ra *x509.Certificate, raKey *rsa.PrivateKey,
	status scep.PKIStatus, info scep.FailInfo, issued *x509.Certificate) ([]byte, error) {
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	attrs := []pkcs7.Attribute{
		{Type: oidTransactionID, Value: printable(string(req.TransactionID))},
		{Type: oidMessageType, Value: printable(string(scep.CertRep))},
		{Type: oidPKIStatus, Value: printable(string(status))},
		{Type: oidSenderNonce, Value: nonce},
		// §3.2.1.5: the recipientNonce is the request's senderNonce.
		{Type: oidRecipientNonce, Value: []byte(req.SenderNonce)},
	}
	var content []byte
	switch status {
	case scep.SUCCESS:
		deg, err := scep.DegenerateCertificates([]*x509.Certificate{issued})
		if err != nil {
			return nil, err
		}
		if content, err = envelope(deg, requester); err != nil {
			return nil, err
		}
	case scep.FAILURE:
		attrs = append(attrs, pkcs7.Attribute{Type: oidFailInfo, Value: printable(string(info))})
	default:
		return nil, fmt.Errorf("CertRep with status %q", status)
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(ra, raKey, pkcs7.SignerInfoConfig{ExtraSignedAttributes: attrs}); err != nil {
		return nil, fmt.Errorf("sign CertRep: %w", err)
	}
	return sd.Finish()
}

// printable marshals as a PrintableString, the type RFC 8894 §3.2.1 gives the
// transactionID, messageType, pkiStatus and failInfo attributes (encoding/asn1 would
// pick UTF8String for a string with characters PrintableString lacks, such as '_').
func printable(s string) asn1.RawValue {
	return asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(s)}
}

// The CMS EnvelopedData of RFC 5652 §6.1 with one KeyTransRecipientInfo.
type (
	contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT, built by hand: a RawValue is written as is
	}
	envelopedData struct {
		Version    int
		Recipients []keyTransRecipient `asn1:"set"`
		Encrypted  encryptedContentInfo
	}
	keyTransRecipient struct {
		Version      int
		Recipient    issuerAndSerial
		Algorithm    pkix.AlgorithmIdentifier
		EncryptedKey []byte
	}
	issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	encryptedContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0"`
	}
)

// envelope encrypts content to the RSA key of to: AES-128-CBC with a fresh key and IV,
// the key transported with RSA PKCS #1 v1.5 (RFC 8894 §3.2.2).
func envelope(content []byte, to *x509.Certificate) ([]byte, error) {
	pub, ok := to.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("requester key is %T; RSA is needed to encrypt the reply", to.PublicKey)
	}
	key := make([]byte, 16)
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(content)%aes.BlockSize // PKCS #7 padding, RFC 5652 §6.3
	plain := make([]byte, len(content)+pad)
	copy(plain, content)
	for i := len(content); i < len(plain); i++ {
		plain[i] = byte(pad)
	}
	sealed := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(sealed, plain)
	// RFC 8894 §3.2.2 and every SCEP client use rsaEncryption key transport; OAEP
	// would be refused. The exposure is a padding oracle on the client, which never
	// answers with decryption errors.
	//lint:ignore SA1019 SCEP clients accept PKCS #1 v1.5 key transport only
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		return nil, fmt.Errorf("encrypt reply key: %w", err)
	}
	ivParam, err := asn1.Marshal(iv)
	if err != nil {
		return nil, err
	}
	env, err := asn1.Marshal(envelopedData{
		Recipients: []keyTransRecipient{{
			Recipient:    issuerAndSerial{Issuer: asn1.RawValue{FullBytes: to.RawIssuer}, Serial: to.SerialNumber},
			Algorithm:    pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue},
			EncryptedKey: wrapped,
		}},
		Encrypted: encryptedContentInfo{
			ContentType: pkcs7.OIDData,
			Algorithm:   pkix.AlgorithmIdentifier{Algorithm: oidAES128CBC, Parameters: asn1.RawValue{FullBytes: ivParam}},
			Content:     sealed,
		},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{ContentType: pkcs7.OIDEnvelopedData, Content: asn1.RawValue{
		Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: env}})
}
