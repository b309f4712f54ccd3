package db

// Prepared statements kept per SQLite connection. The driver compiles a statement's
// SQL text anew on every Exec and Query, which costs more than running most of the
// short statements Mailroom sends; every connection here keeps the compiled form of the
// statements it ran, keyed by their text, and runs them again with new arguments.

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"
)

// maxCachedStmts bounds the statements one connection keeps. Queries built with a
// variable number of placeholders (IN lists) each have their own text; when the
// cache is full the statements not in use are dropped and it fills again.
const maxCachedStmts = 256

// cachedStmt is a compiled statement; busy while rows read from it are open, when
// running it again would reset the reader under them.
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	busy bool
}

// stmtCachingConn runs single statements through prepared statements it keeps.
// database/sql never uses a driver connection from two goroutines at once, so the
// cache needs no lock.
type stmtCachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
}

func newStmtCachingConn(c sqliteConn) *stmtCachingConn {
	return &stmtCachingConn{sqliteConn: c, stmts: map[string]*cachedStmt{}}
}

// Unwrap lets the driver's own helpers (sqlite.Limit) reach the connection.
func (c *stmtCachingConn) Unwrap() driver.Conn { return c.sqliteConn }

// prepared returns the kept statement for query, compiling it on first use, or nil
// when query is not a single statement or does not compile (the uncached path then
// reports the error as the driver words it).
func (c *stmtCachingConn) prepared(ctx context.Context, query string) *cachedStmt {
	if cs, ok := c.stmts[query]; ok {
		return cs
	}
	if strings.Contains(query, ";") {
		return nil // a script: the driver runs it statement by statement
	}
	st, err := c.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	s, ok := st.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		st.Close()
		return nil
	}
	if len(c.stmts) >= maxCachedStmts {
		for q, old := range c.stmts {
			if !old.busy {
				old.stmt.Close()
				delete(c.stmts, q)
			}
		}
	}
	cs := &cachedStmt{stmt: s}
	c.stmts[query] = cs
	return cs
}

func (c *stmtCachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs := c.prepared(ctx, query)
	if cs == nil || cs.busy {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return cs.stmt.ExecContext(ctx, args)
}

func (c *stmtCachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs := c.prepared(ctx, query)
	if cs == nil || cs.busy {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, stmt: cs}, nil
}

// Close closes the kept statements, then the connection.
func (c *stmtCachingConn) Close() error {
	for q, cs := range c.stmts {
		cs.stmt.Close()
		delete(c.stmts, q)
	}
	return c.sqliteConn.Close()
}

// cachedRows frees its statement for the next use when closed, and passes on the
// column type information the driver's rows offer.
type cachedRows struct {
	driver.Rows
	stmt *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.stmt.busy = false
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
