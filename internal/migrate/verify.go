package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// verify reads the committed target back: every copied table must hold as many rows as
// the source's (counted in the same snapshot the copy read), and blob_data exactly the
// blobs written, each of whose bytes hashes to its id.
func (c *copier) verify(ctx context.Context, target *sql.DB, order []string) (Report, error) {
	var rep Report
	var problems []string
	for _, t := range order {
		if !c.tables[t] {
			continue
		}
		var src, dst int64
		if err := c.src.QueryRowContext(ctx, `SELECT count(*) FROM "`+t+`"`).Scan(&src); err != nil {
			return rep, fmt.Errorf("count source %s: %w", t, err)
		}
		if err := target.QueryRowContext(ctx, `SELECT count(*) FROM `+pgx.Identifier{t}.Sanitize()).Scan(&dst); err != nil {
			return rep, fmt.Errorf("count target %s: %w", t, err)
		}
		rep.Tables = append(rep.Tables, TableCount{Table: t, Source: src, Target: dst})
		if src != dst || c.copied[t] != src {
			problems = append(problems, fmt.Sprintf("%s: %d rows in the source, %d copied, %d in the target", t, src, c.copied[t], dst))
		}
	}
	// sha256() runs on the server, so the bytes need not travel back.
	rows, err := target.QueryContext(ctx, `SELECT id, encode(sha256(data), 'hex'), length(data) FROM blob_data`)
	if err != nil {
		return rep, fmt.Errorf("read back blob_data: %w", err)
	}
	seen := 0
	for rows.Next() {
		var key, sum string
		var size int64
		if err := rows.Scan(&key, &sum, &size); err != nil {
			rows.Close()
			return rep, fmt.Errorf("read back blob_data: %w", err)
		}
		want, ok := c.blobs[key]
		_, id, _ := strings.Cut(key, "/")
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("blob_data %s was not copied from the source", key))
		case sum != id || size != want:
			problems = append(problems, fmt.Sprintf("blob_data %s: %d bytes with SHA-256 %s, want %d bytes", key, size, sum, want))
		default:
			seen++
			rep.BlobBytes += size
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("read back blob_data: %w", err)
	}
	rep.Blobs = int64(seen)
	rep.Tables = append(rep.Tables, TableCount{Table: "blob_data", Source: int64(len(c.blobs)), Target: int64(seen)})
	if seen != len(c.blobs) {
		problems = append(problems, fmt.Sprintf("blob_data: %d blobs in the source, %d verified in the target", len(c.blobs), seen))
	}
	sort.Slice(rep.Tables, func(i, j int) bool { return rep.Tables[i].Table < rep.Tables[j].Table })
	if len(problems) > 0 {
		return rep, fmt.Errorf("%w:\n  %s", ErrMismatch, strings.Join(problems, "\n  "))
	}
	return rep, nil
}
