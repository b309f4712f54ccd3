package activesync

// GetAttachment follows [MS-ASCMD] 2.2.1.8, the attachment download of 12.1 and 14.x
// clients: AttachmentName in the query is the FileReference a Sync gave, and the
// answer is the attachment's bytes. 16.0 dropped the command for ItemOperations.

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"mailroom/internal/mime"
)

func (s *Server) getAttachment(ctx context.Context, w http.ResponseWriter, r *request) error {
	if r.version >= 160 {
		http.Error(w, "GetAttachment is not part of ActiveSync 16; use ItemOperations", http.StatusBadRequest)
		return nil
	}
	ref := r.params["AttachmentName"]
	f, uid, section, ok := parseFileReference(ref)
	if !ok {
		http.Error(w, "no such attachment", http.StatusNotFound)
		return nil
	}
	m, found, err := s.ownMessage(ctx, r, itemServerID(f, uid))
	if err != nil {
		return err
	}
	if !found {
		http.Error(w, "no such attachment", http.StatusNotFound)
		return nil
	}
	raw, err := s.store.Raw(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("attachment %s: %w", ref, err)
	}
	msg := mime.Message{Envelope: m.Envelope, Root: m.Root}
	p, ok := msg.PartAt(section)
	if !ok {
		http.Error(w, "no such attachment", http.StatusNotFound)
		return nil
	}
	data, err := p.DecodedBody(raw)
	if err != nil {
		http.Error(w, "attachment cannot be decoded", http.StatusInternalServerError)
		return nil
	}
	w.Header().Set("Content-Type", p.Type+"/"+p.Subtype)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}
