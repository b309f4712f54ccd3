package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// rsaBits is the size of the signing key: RS256 (RFC 7518 section 3.3) needs at least
// 2048 bits.
const rsaBits = 2048

// signingKey is one RS256 key; it serves both as op.SigningKey and op.Key.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) ID() string                                  { return k.id }
func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k signingKey) Use() string                                 { return "sig" }

// Key is the private key, for signing (op.SigningKey); publicKey overrides it for the
// JWKS (op.Key), which has a method of the same name.
func (k signingKey) Key() any { return k.key }

// publicKey is a signing key as the JWKS publishes it.
type publicKey struct{ signingKey }

func (k publicKey) Key() any { return &k.key.PublicKey }

// keyRing caches the keys read from the database; keys never change once written, so
// the cache only grows, when a token names a key this process has not seen.
type keyRing struct {
	store *Store
	mu    sync.Mutex
	keys  []signingKey // oldest first; the last signs
}

// load reads every key, creating the first one if there is none.
func (r *keyRing) load(ctx context.Context) error {
	keys, err := r.read(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		if err := r.create(ctx); err != nil {
			return err
		}
		if keys, err = r.read(ctx); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.keys = keys
	r.mu.Unlock()
	return nil
}

func (r *keyRing) read(ctx context.Context) ([]signingKey, error) {
	rows, err := r.store.db.Read().QueryContext(ctx, `SELECT id, key_pem FROM oauth_keys ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer rows.Close()
	var keys []signingKey
	for rows.Next() {
		var id, keyPEM string
		if err := rows.Scan(&id, &keyPEM); err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		block, _ := pem.Decode([]byte(keyPEM))
		if block == nil {
			return nil, fmt.Errorf("signing key %s: no PEM block", id)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", id, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not an RSA key", id)
		}
		keys = append(keys, signingKey{id: id, key: rk})
	}
	return keys, rows.Err()
}

// create stores a new key. Two nodes starting at once may both create one; both are
// published and the later signs.
func (r *keyRing) create(ctx context.Context) error {
	k, err := rsa.GenerateKey(rand.Reader, rsaBits)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return r.store.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_keys (id, key_pem, created) VALUES ($1, $2, $3)`, randomToken(12), string(keyPEM), r.store.micros())
		if err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		return nil
	})
}

// signing returns the key that signs new tokens.
func (r *keyRing) signing() signingKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[len(r.keys)-1]
}

// all returns every key as the JWKS publishes it.
func (r *keyRing) all() []op.Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]op.Key, len(r.keys))
	for i, k := range r.keys {
		keys[i] = publicKey{k}
	}
	return keys
}

// public returns the public key with the given id, reloading the keys once when it is
// unknown (another node may have created it).
func (r *keyRing) public(ctx context.Context, id string) (*rsa.PublicKey, error) {
	find := func() *rsa.PublicKey {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, k := range r.keys {
			if k.id == id {
				return &k.key.PublicKey
			}
		}
		return nil
	}
	if pk := find(); pk != nil {
		return pk, nil
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	if pk := find(); pk != nil {
		return pk, nil
	}
	return nil, fmt.Errorf("%w %q", errUnknownKey, id)
}

var errUnknownKey = errors.New("unknown signing key")
