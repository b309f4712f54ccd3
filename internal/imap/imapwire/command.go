package imapwire

import (
	"encoding/base64"
	"time"
)

// Command is one parsed client command (RFC 9051 section 6).
type Command struct {
	Tag  string
	Name string // upper case; for "UID FETCH" it is "FETCH" and UID is true
	UID  bool   // UID COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE, SORT or THREAD
	// Args holds the arguments as a pointer to the struct named like the command
	// (*Login for LOGIN, *Select for SELECT and EXAMINE, *List for LIST, ...). It is
	// nil for commands without arguments: CAPABILITY, NOOP, LOGOUT, STARTTLS, CHECK,
	// CLOSE, UNSELECT, NAMESPACE, IDLE and EXPUNGE without UID.
	Args any
}

// Login is LOGIN userid password (RFC 9051 section 6.2.3).
type Login struct {
	Username, Password string
}

// Authenticate is AUTHENTICATE mechanism [initial-response] (RFC 9051 section 6.2.2,
// RFC 4959). InitialResponse is decoded from BASE64; it is nil when absent and empty,
// not nil, for "=".
type Authenticate struct {
	Mechanism       string // upper case
	InitialResponse []byte
}

// Enable is ENABLE capability... (RFC 5161). Capabilities are upper case.
type Enable struct {
	Capabilities []string
}

// ID is ID (field value ...) or ID NIL (RFC 2971).
type ID struct {
	Params []IDParam // nil for NIL
}

// IDParam is one field of ID; Nil is true for a NIL value.
type IDParam struct {
	Field, Value string
	Nil          bool
}

// Select is SELECT or EXAMINE (RFC 9051 sections 6.3.2, 6.3.3) with the CONDSTORE and
// QRESYNC parameters (RFC 7162 sections 3.1.8, 3.2.5).
type Select struct {
	Mailbox   string
	ReadOnly  bool // EXAMINE
	CondStore bool
	QResync   *QResync
}

// QResync holds the QRESYNC select parameter.
type QResync struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   *SeqSet // nil when absent
	// KnownSeqs and KnownSeqUIDs are the optional seq-match-data: message sequence
	// numbers and the UIDs the client has for them. Both nil when absent.
	KnownSeqs, KnownSeqUIDs *SeqSet
}

// Create is CREATE mailbox, with USE (...) from CREATE-SPECIAL-USE (RFC 6154
// section 3).
type Create struct {
	Mailbox    string
	SpecialUse []string // e.g. `\Drafts`, as written
}

// Delete is DELETE mailbox.
type Delete struct{ Mailbox string }

// Rename is RENAME from to.
type Rename struct{ From, To string }

// Subscribe is SUBSCRIBE mailbox.
type Subscribe struct{ Mailbox string }

// Unsubscribe is UNSUBSCRIBE mailbox.
type Unsubscribe struct{ Mailbox string }

// List is LIST with the LIST-EXTENDED selection and return options (RFC 9051
// section 6.3.9, RFC 5258, RFC 6154, RFC 5819).
type List struct {
	Reference string
	Patterns  []string // one unless the extended form "(pat pat ...)" was used
	Select    ListSelect
	Return    ListReturn
	// Extended is true when selection options, a pattern list or return options were
	// given, which makes the response extended (RFC 5258 section 3).
	Extended bool
}

// ListSelect holds LIST selection options (RFC 5258 section 3.1, RFC 6154 section 3).
type ListSelect struct {
	Subscribed, Remote, RecursiveMatch, SpecialUse bool
}

// ListReturn holds LIST return options (RFC 5258 section 3.2, RFC 6154 section 3,
// RFC 5819). Status lists the STATUS items of RETURN (STATUS (...)), nil when absent.
type ListReturn struct {
	Subscribed, Children, SpecialUse bool
	Status                           []string
}

// Lsub is LSUB reference pattern (RFC 3501 section 6.3.9).
type Lsub struct {
	Reference, Pattern string
}

// Status is STATUS mailbox (items) (RFC 9051 section 6.3.11). Items are upper case:
// MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT.
type Status struct {
	Mailbox string
	Items   []string
}

// Append is APPEND mailbox [flags] [date-time] message (RFC 9051 section 6.3.12).
type Append struct {
	Mailbox string
	Flags   []string  // nil when absent
	Date    time.Time // zero when absent
	Binary  bool      // the message came as literal8 (RFC 3516 section 4.4)
	Message []byte
}

// Copy is COPY or UID COPY set mailbox (RFC 9051 section 6.4.7).
type Copy struct {
	Set     SeqSet
	Mailbox string
}

// Move is MOVE or UID MOVE set mailbox (RFC 6851).
type Move struct {
	Set     SeqSet
	Mailbox string
}

// Expunge is UID EXPUNGE set (RFC 4315 section 2.1); EXPUNGE has no arguments.
type Expunge struct {
	Set SeqSet
}

// Fetch is FETCH or UID FETCH (RFC 9051 section 6.4.5) with the CHANGEDSINCE and
// VANISHED modifiers (RFC 7162 sections 3.1.4, 3.2.6). Macros are expanded.
type Fetch struct {
	Set          SeqSet
	Items        []FetchItem
	ChangedSince uint64 // 0 when absent
	Vanished     bool
}

// StoreOp says how STORE changes flags.
type StoreOp int

// The STORE operations: FLAGS, +FLAGS, -FLAGS.
const (
	StoreReplace StoreOp = iota
	StoreAdd
	StoreRemove
)

// Store is STORE or UID STORE (RFC 9051 section 6.4.6) with UNCHANGEDSINCE (RFC 7162
// section 3.1.3).
type Store struct {
	Set               SeqSet
	Op                StoreOp
	Silent            bool
	Flags             []string
	UnchangedSince    uint64
	HasUnchangedSince bool // UNCHANGEDSINCE 0 is meaningful, so presence is separate
}

// Search is SEARCH or UID SEARCH (RFC 9051 section 6.4.4) with ESEARCH return options
// (RFC 4731, RFC 5182).
type Search struct {
	Charset string // upper case, "" when absent
	// ESearch is true when RETURN (...) was given; Return then lists the options in
	// upper case (MIN MAX ALL COUNT SAVE), empty meaning ALL (RFC 4731 section 3.1).
	ESearch bool
	Return  []string
	Key     *SearchKey
}

// SortCriterion is one SORT key (RFC 5256 section 3, RFC 5957): ARRIVAL CC DATE FROM
// SIZE SUBJECT TO DISPLAYFROM DISPLAYTO.
type SortCriterion struct {
	Key     string
	Reverse bool
}

// Sort is SORT or UID SORT (sort-criteria) charset search-keys (RFC 5256 section 3).
type Sort struct {
	Criteria []SortCriterion
	Charset  string
	Key      *SearchKey
}

// Thread is THREAD or UID THREAD algorithm charset search-keys (RFC 5256 section 3).
type Thread struct {
	Algorithm string // upper case: ORDEREDSUBJECT, REFERENCES or another atom
	Charset   string
	Key       *SearchKey
}

// GetQuota is GETQUOTA root (RFC 9208 section 4.2).
type GetQuota struct{ Root string }

// GetQuotaRoot is GETQUOTAROOT mailbox (RFC 9208 section 4.3).
type GetQuotaRoot struct{ Mailbox string }

// SetQuota is SETQUOTA root (resource limit ...) (RFC 9208 section 4.1).
type SetQuota struct {
	Root   string
	Limits []QuotaLimit
}

// QuotaLimit is one resource limit of SETQUOTA; Resource is upper case.
type QuotaLimit struct {
	Resource string
	Limit    uint64
}

// Compress is COMPRESS mechanism (RFC 4978); Mechanism is upper case.
type Compress struct{ Mechanism string }

// SetACL is SETACL mailbox identifier mod-rights (RFC 4314 section 3.1): Rights as
// sent, with its leading "+" or "-" if any.
type SetACL struct{ Mailbox, Identifier, Rights string }

// DeleteACL is DELETEACL mailbox identifier (RFC 4314 section 3.2).
type DeleteACL struct{ Mailbox, Identifier string }

// GetACL is GETACL mailbox (RFC 4314 section 3.3).
type GetACL struct{ Mailbox string }

// ListRights is LISTRIGHTS mailbox identifier (RFC 4314 section 3.4).
type ListRights struct{ Mailbox, Identifier string }

// MyRights is MYRIGHTS mailbox (RFC 4314 section 3.5).
type MyRights struct{ Mailbox string }

// parseCommand parses a whole command.
func parseCommand(raw *rawCommand, utf8 bool) (cmd *Command, err error) {
	p := &parser{raw: raw, utf8: utf8}
	defer func() {
		if e := recover(); e != nil {
			se, ok := e.(*SyntaxError)
			if !ok {
				panic(e)
			}
			cmd, err = nil, se
		}
	}()
	if p.atEnd() {
		p.fail("empty command")
	}
	tag := p.span(isTagChar)
	if tag == "" || (p.peek() != ' ' && !p.atEnd()) {
		p.fail("invalid tag")
	}
	p.tag = tag
	if p.atEnd() {
		p.fail("missing command name")
	}
	p.sp()
	cmd = &Command{Tag: tag, Name: p.keyword()}
	if cmd.Name == "UID" {
		cmd.UID = true
		p.sp()
		cmd.Name = p.keyword()
	}
	p.name = cmd.Name
	cmd.Args = p.args(cmd.Name, cmd.UID)
	p.expectEnd()
	return cmd, nil
}

// args parses the arguments of the command name.
func (p *parser) args(name string, uid bool) any {
	if uid {
		switch name {
		case "COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD":
		default:
			p.fail("UID %s is not a command", name)
		}
	}
	switch name {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "NAMESPACE", "IDLE":
		return nil
	case "EXPUNGE":
		if !uid {
			return nil
		}
		p.sp()
		return &Expunge{Set: p.seqSet()}
	case "LOGIN":
		p.sp()
		a := &Login{Username: p.astring()}
		p.sp()
		a.Password = p.astring()
		return a
	case "AUTHENTICATE":
		return p.authenticate()
	case "ENABLE":
		a := &Enable{}
		for {
			p.sp()
			a.Capabilities = append(a.Capabilities, p.keyword())
			if p.atEnd() {
				return a
			}
		}
	case "ID":
		return p.id()
	case "SELECT", "EXAMINE":
		return p.selectArgs(name == "EXAMINE")
	case "CREATE":
		return p.create()
	case "DELETE":
		p.sp()
		return &Delete{Mailbox: p.mailbox()}
	case "RENAME":
		p.sp()
		a := &Rename{From: p.mailbox()}
		p.sp()
		a.To = p.mailbox()
		return a
	case "SUBSCRIBE":
		p.sp()
		return &Subscribe{Mailbox: p.mailbox()}
	case "UNSUBSCRIBE":
		p.sp()
		return &Unsubscribe{Mailbox: p.mailbox()}
	case "LIST":
		return p.listArgs()
	case "LSUB":
		p.sp()
		a := &Lsub{Reference: p.mailbox()}
		p.sp()
		a.Pattern = p.listMailbox()
		return a
	case "STATUS":
		p.sp()
		a := &Status{Mailbox: p.mailbox()}
		p.sp()
		a.Items = p.statusItems()
		return a
	case "APPEND":
		return p.appendArgs()
	case "COPY", "MOVE":
		p.sp()
		set := p.seqSet()
		p.sp()
		mbox := p.mailbox()
		if name == "MOVE" {
			return &Move{Set: set, Mailbox: mbox}
		}
		return &Copy{Set: set, Mailbox: mbox}
	case "FETCH":
		return p.fetch(uid)
	case "STORE":
		return p.store()
	case "SEARCH":
		return p.search()
	case "SORT":
		return p.sort()
	case "THREAD":
		p.sp()
		a := &Thread{Algorithm: p.keyword()}
		p.sp()
		a.Charset = upper(p.astring())
		a.Key = p.searchProgram()
		return a
	case "GETQUOTA":
		p.sp()
		return &GetQuota{Root: p.astring()}
	case "GETQUOTAROOT":
		p.sp()
		return &GetQuotaRoot{Mailbox: p.mailbox()}
	case "SETQUOTA":
		return p.setQuota()
	case "COMPRESS":
		p.sp()
		return &Compress{Mechanism: p.keyword()}
	// RFC 4314 section 6: identifier and rights are astrings.
	case "SETACL":
		p.sp()
		a := &SetACL{Mailbox: p.mailbox()}
		p.sp()
		a.Identifier = p.astring()
		p.sp()
		a.Rights = p.astring()
		return a
	case "DELETEACL", "LISTRIGHTS":
		p.sp()
		mbox := p.mailbox()
		p.sp()
		id := p.astring()
		if name == "DELETEACL" {
			return &DeleteACL{Mailbox: mbox, Identifier: id}
		}
		return &ListRights{Mailbox: mbox, Identifier: id}
	case "GETACL":
		p.sp()
		return &GetACL{Mailbox: p.mailbox()}
	case "MYRIGHTS":
		p.sp()
		return &MyRights{Mailbox: p.mailbox()}
	}
	p.fail("unknown command %s", name)
	return nil
}

// authenticate parses AUTHENTICATE auth-type [SP (base64 / "=")] (RFC 9051 section 9,
// RFC 4959 section 3).
func (p *parser) authenticate() *Authenticate {
	p.sp()
	a := &Authenticate{Mechanism: p.keyword()}
	if p.atEnd() {
		return a
	}
	p.sp()
	if p.consume('=') {
		a.InitialResponse = []byte{}
		return a
	}
	s := p.span(isBase64Char)
	ir, err := base64.StdEncoding.DecodeString(s)
	if s == "" || err != nil {
		p.fail("invalid base64 initial response")
	}
	a.InitialResponse = ir
	return a
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '+' || c == '/' || c == '='
}

// id parses ID SP ("(" [string SP nstring *(SP string SP nstring)] ")" / NIL)
// (RFC 2971 section 4).
func (p *parser) id() *ID {
	p.sp()
	a := &ID{}
	if p.peek() != '(' {
		if upper(p.atom()) != "NIL" {
			p.fail("expected parameter list or NIL")
		}
		return a
	}
	a.Params = []IDParam{}
	p.list(false, func() {
		f := IDParam{Field: p.stringValue()}
		p.sp()
		var ok bool
		f.Value, ok = p.nstring()
		f.Nil = !ok
		a.Params = append(a.Params, f)
	})
	return a
}

// selectArgs parses mailbox [SP "(" select-param *(SP select-param) ")"]
// (RFC 9051 section 9, RFC 7162 sections 3.1.8 and 3.2.5).
func (p *parser) selectArgs(readOnly bool) *Select {
	p.sp()
	a := &Select{Mailbox: p.mailbox(), ReadOnly: readOnly}
	if p.atEnd() {
		return a
	}
	p.sp()
	p.list(true, func() {
		switch k := p.keyword(); k {
		case "CONDSTORE":
			a.CondStore = true
		case "QRESYNC":
			if a.QResync != nil {
				p.fail("QRESYNC given twice")
			}
			p.sp()
			a.QResync = p.qresync()
		default:
			p.fail("unknown select parameter %s", k)
		}
	})
	return a
}

// qresync parses "(" uidvalidity SP mod-sequence-value [SP known-uids]
// [SP seq-match-data] ")" (RFC 7162 section 7).
func (p *parser) qresync() *QResync {
	p.expect('(')
	q := &QResync{UIDValidity: p.nzNumber32()}
	p.sp()
	q.ModSeq = p.number()
	if q.ModSeq == 0 {
		p.fail("mod-sequence must not be 0")
	}
	if p.consume(' ') {
		if p.peek() != '(' {
			s := p.seqSet()
			if s.Saved {
				p.fail("$ not allowed in known-uids")
			}
			q.KnownUIDs = &s
			if !p.consume(' ') {
				p.expect(')')
				return q
			}
		}
		p.expect('(')
		seqs := p.seqSet()
		p.sp()
		uids := p.seqSet()
		p.expect(')')
		if seqs.Saved || uids.Saved {
			p.fail("$ not allowed in seq-match-data")
		}
		q.KnownSeqs, q.KnownSeqUIDs = &seqs, &uids
	}
	p.expect(')')
	return q
}

// create parses mailbox [SP "(" create-param *(SP create-param) ")"] with
// create-param USE SP "(" [use-attr *(SP use-attr)] ")" (RFC 6154 section 6).
func (p *parser) create() *Create {
	p.sp()
	a := &Create{Mailbox: p.mailbox()}
	if p.atEnd() {
		return a
	}
	p.sp()
	p.list(true, func() {
		if k := p.keyword(); k != "USE" {
			p.fail("unknown create parameter %s", k)
		}
		p.sp()
		a.SpecialUse = []string{}
		p.list(false, func() {
			p.expect('\\')
			a.SpecialUse = append(a.SpecialUse, "\\"+p.atom())
		})
	})
	return a
}

// listArgs parses "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
// [SP list-return-opts] (RFC 9051 section 9, RFC 5258 section 6).
func (p *parser) listArgs() *List {
	p.sp()
	a := &List{}
	if p.peek() == '(' {
		a.Extended = true
		p.list(false, func() {
			switch k := p.keyword(); k {
			case "SUBSCRIBED":
				a.Select.Subscribed = true
			case "REMOTE":
				a.Select.Remote = true
			case "RECURSIVEMATCH":
				a.Select.RecursiveMatch = true
			case "SPECIAL-USE":
				a.Select.SpecialUse = true
			default:
				p.fail("unknown LIST selection option %s", k)
			}
		})
		// RECURSIVEMATCH alone is an error (RFC 5258 section 3.1).
		if a.Select.RecursiveMatch && !a.Select.Subscribed && !a.Select.SpecialUse {
			p.fail("RECURSIVEMATCH needs another selection option")
		}
		p.sp()
	}
	a.Reference = p.mailbox()
	p.sp()
	if p.peek() == '(' && !p.atLiteral() {
		a.Extended = true
		p.list(true, func() { a.Patterns = append(a.Patterns, p.listMailbox()) })
	} else {
		a.Patterns = []string{p.listMailbox()}
	}
	if p.atEnd() {
		return a
	}
	p.sp()
	if p.keyword() != "RETURN" {
		p.fail("expected RETURN")
	}
	a.Extended = true
	p.sp()
	p.list(false, func() {
		switch k := p.keyword(); k {
		case "SUBSCRIBED":
			a.Return.Subscribed = true
		case "CHILDREN":
			a.Return.Children = true
		case "SPECIAL-USE":
			a.Return.SpecialUse = true
		case "STATUS":
			p.sp()
			a.Return.Status = p.statusItems()
		default:
			p.fail("unknown LIST return option %s", k)
		}
	})
	return a
}

// statusItems parses "(" status-att *(SP status-att) ")" (RFC 9051 section 9,
// RFC 7162, RFC 7889, RFC 8438).
func (p *parser) statusItems() []string {
	var items []string
	p.list(true, func() {
		switch k := p.keyword(); k {
		case "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
			"HIGHESTMODSEQ", "APPENDLIMIT":
			items = append(items, k)
		default:
			p.fail("unknown status item %s", k)
		}
	})
	return items
}

// appendArgs parses mailbox [SP flag-list] [SP date-time] SP (literal / literal8)
// (RFC 9051 section 9, RFC 3516 section 4.4).
func (p *parser) appendArgs() *Append {
	p.sp()
	a := &Append{Mailbox: p.mailbox()}
	p.sp()
	if p.peek() == '(' && !p.atLiteral() {
		a.Flags = p.flagList()
		p.sp()
	}
	if p.peek() == '"' && !p.atLiteral() {
		a.Date = p.dateTime()
		p.sp()
	}
	if !p.atLiteral() {
		p.fail("expected message literal")
	}
	l := p.literal()
	a.Message, a.Binary = l.data, l.binary
	return a
}

// store parses sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
// SP store-att-flags (RFC 9051 section 9, RFC 7162 section 7).
func (p *parser) store() *Store {
	p.sp()
	a := &Store{Set: p.seqSet()}
	p.sp()
	if p.peek() == '(' {
		p.list(true, func() {
			if k := p.keyword(); k != "UNCHANGEDSINCE" || a.HasUnchangedSince {
				p.fail("unexpected store modifier %s", k)
			}
			p.sp()
			a.UnchangedSince = p.number()
			a.HasUnchangedSince = true
		})
		p.sp()
	}
	switch {
	case p.consume('+'):
		a.Op = StoreAdd
	case p.consume('-'):
		a.Op = StoreRemove
	}
	switch p.keyword() {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		p.fail("expected FLAGS or FLAGS.SILENT")
	}
	p.sp()
	if p.peek() == '(' {
		a.Flags = p.flagList()
		return a
	}
	a.Flags = []string{p.flag()}
	for p.consume(' ') {
		a.Flags = append(a.Flags, p.flag())
	}
	return a
}

// setQuota parses quota-root-name SP "(" [setquota-resource *(SP setquota-resource)]
// ")" (RFC 9208 section 9).
func (p *parser) setQuota() *SetQuota {
	p.sp()
	a := &SetQuota{Root: p.astring(), Limits: []QuotaLimit{}}
	p.sp()
	p.list(false, func() {
		l := QuotaLimit{Resource: p.keyword()}
		p.sp()
		l.Limit = p.number()
		a.Limits = append(a.Limits, l)
	})
	return a
}
