-- The registration authority certificate SCEP (RFC 8894 §2.2) encrypts requests to.
-- The CA key is ECDSA, which cannot decrypt a CMS envelope, so an RSA key certified
-- by the CA takes that part. It is in the database for the reason the CA is: every
-- node must decrypt what a device encrypted to the certificate another node served.
CREATE TABLE pki_ra (
	id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	cert_pem TEXT NOT NULL,
	key_pem TEXT NOT NULL,  -- PKCS #8
	created BIGINT NOT NULL
);
