package db

// Counting statements. Every statement a DB sends adds one to that DB's counter
// (Queries), on either engine, so that the server can export it as a metric and tests
// can hold the statements per delivered message to a bound. BEGIN, COMMIT and ROLLBACK
// count as statements: on PostgreSQL each is a round trip like any other.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Queries returns how many statements this DB has sent since it was opened.
func (d *DB) Queries() uint64 { return d.queries.Load() }

// pgCounter counts PostgreSQL statements through pgx's tracing hook, which every Exec
// and Query of a pgx connection calls (database/sql's statements, BEGIN and COMMIT
// included, go through those).
type pgCounter struct{ n *atomic.Uint64 }

func (c pgCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (pgCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// sqliteConn is what every connection of modernc.org/sqlite implements (the
// documentation of its NewConnector lists it); countingConn forwards all of it, so
// that database/sql keeps using the context-aware methods.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// countingConnector opens SQLite connections that count their statements.
type countingConnector struct {
	driver.Connector
	n *atomic.Uint64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("SQLite connection %T lacks the context-aware methods", conn)
	}
	return &countingConn{sqliteConn: newStmtCachingConn(sc), n: c.n}, nil
}

type countingConn struct {
	sqliteConn
	n *atomic.Uint64
}

// Unwrap lets the driver's own helpers (sqlite.Limit) reach the connection.
func (c *countingConn) Unwrap() driver.Conn { return c.sqliteConn }

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.sqliteConn.ExecContext(ctx, query, args)
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.sqliteConn.QueryContext(ctx, query, args)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.n.Add(1)
	tx, err := c.sqliteConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{Tx: tx, n: c.n}, nil
}

// countingTx counts the COMMIT or ROLLBACK that ends a transaction.
type countingTx struct {
	driver.Tx
	n *atomic.Uint64
}

func (t countingTx) Commit() error {
	t.n.Add(1)
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	t.n.Add(1)
	return t.Tx.Rollback()
}
