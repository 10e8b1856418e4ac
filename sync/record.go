package sync

// Record is one input record as the source read it: the cells mapped to the
// card's fields, not yet normalised. A record that could not be read whole
// (a ragged row, a broken quote, bad bytes) still becomes a Record, with
// Problem saying why, so that it reaches the report instead of vanishing.
type Record struct {
	Line      int    // line in the input where the record starts; the header is line 1
	Phone     string // raw phone_number cell
	FirstName string
	LastName  string
	ImageURL  string
	Region    string // raw country cell (--region-column): the region of a number written without +
	Problem   string // non-empty when the record is unusable as read
}

// Desired is a record after normalisation: what the card should look like.
// An empty field means the source cell was blank; what that means for the
// card is decided by the diff (--empty keep|clear), not here.
type Desired struct {
	Line      int
	Phone     string // E.164 when valid, otherwise the raw cell
	FirstName string
	LastName  string
	ImageURL  string
	Invalid   string // non-empty: why the record cannot be applied, naming the field
}

// Card is a contact card as the API returned it.
type Card struct {
	Phone     string
	FirstName string
	LastName  string
	ImageURL  string // the CDN URL Linq serves, not the URL that was sent
	Active    bool
}

// Field names as they appear in reports, --map and PATCH bodies.
const (
	FieldPhone     = "phone_number"
	FieldFirstName = "first_name"
	FieldLastName  = "last_name"
	FieldImageURL  = "image_url"
	// FieldRegion is not a card field: its column (--region-column) gives
	// each record the region of a phone number written without +.
	FieldRegion = "region"
)

// Action is what the plan decided for one record.
type Action string

const (
	ActionCreate    Action = "create"    // no card, and --create-missing
	ActionUpdate    Action = "update"    // card exists and some field differs
	ActionNoop      Action = "noop"      // card already as desired
	ActionInvalid   Action = "invalid"   // record unreadable or a field invalid
	ActionDuplicate Action = "duplicate" // phone number on more than one record
	ActionMissing   Action = "missing"   // no card and creating is not allowed
	ActionInactive  Action = "inactive"  // card exists with is_active=false
	ActionStale     Action = "stale"     // saved plan: the live card changed since the plan
	ActionNotOwned  Action = "not_owned" // the number is not one of the account's lines (or the API answered 403)
	ActionAbsent    Action = "absent"    // --report-absent: a live card no record names; nothing is sent
	// undo: the run created the card, and the API cannot delete one
	ActionCannotUndo Action = "cannot_undo"
)

// Actions lists every action in report order, for summaries.
var Actions = []Action{ActionCreate, ActionUpdate, ActionNoop, ActionInvalid, ActionDuplicate, ActionMissing, ActionInactive, ActionNotOwned, ActionStale, ActionAbsent, ActionCannotUndo}

// Result is how a record ended.
type Result string

const (
	ResultPlanned Result = "planned" // dry run
	ResultOK      Result = "ok"
	ResultFailed  Result = "failed"
	ResultSkipped Result = "skipped" // not attempted
)
