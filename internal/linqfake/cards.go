package linqfake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/bulksync/bulksync/gen/linq"
)

// maxNameLength is the longest first_name or last_name, in characters
// (openapi.yaml decision: longer answers 400/1005).
const maxNameLength = 256

var e164 = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)

// card is a stored contact card; the phone number is its key in the store.
// Empty optional fields are absent from answers.
type card struct {
	firstName string
	lastName  string
	imageURL  string // the CDN URL, as Linq serves it
	active    bool
}

func cardFrom(c linq.ContactCard) card {
	return card{firstName: c.FirstName, lastName: deref(c.LastName), imageURL: deref(c.ImageUrl), active: c.IsActive}
}

func (c card) contactCard(phone string) linq.ContactCard {
	return linq.ContactCard{
		PhoneNumber: phone,
		FirstName:   c.firstName,
		LastName:    optional(c.lastName),
		ImageUrl:    optional(c.imageURL),
		IsActive:    c.active,
	}
}

func (c card) setContactCard(phone string) linq.SetContactCard {
	return linq.SetContactCard(c.contactCard(phone))
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RehostedURL returns the image_url the fake answers with after a client sent
// src: the CDN URL Linq would serve the image from. It is derived from src
// alone so that tests can predict it; "" stays "".
func RehostedURL(src string) string {
	if src == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(src))
	return "https://cdn.linqapp.com/contact-card/" + hex.EncodeToString(sum[:8]) + ".jpg"
}

// checkName answers 400/1005 for a name longer than maxNameLength characters.
func checkName(field, value string) *apiError {
	if n := utf8.RuneCountInString(value); n > maxNameLength {
		e := errInvalid("%s is %d characters long; at most %d are allowed", field, n, maxNameLength)
		return &e
	}
	return nil
}

// unreachableImageHost is the host suffix of image URLs the fake cannot
// download: .invalid is reserved (RFC 2606) and never resolves, so such a
// URL answers 400/5007 where Linq would fail to fetch the image.
const unreachableImageHost = ".invalid"

// fetchImage answers 400/5007 for an image URL Linq could not download:
// one whose host ends in .invalid. Linq fetches the image when it writes the
// card, so this is checked last, after everything that rejects the request
// without a download.
func fetchImage(src string) *apiError {
	if src == "" {
		return nil
	}
	if u, err := url.Parse(src); err == nil && strings.HasSuffix(strings.ToLower(u.Hostname()), unreachableImageHost) {
		e := errImageFetch
		return &e
	}
	return nil
}

// checkImage answers 400/1005 unless src is empty or an absolute https URL.
func checkImage(src string) *apiError {
	if src == "" {
		return nil
	}
	u, err := url.Parse(src)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		e := errInvalid("image_url must be an absolute https URL")
		return &e
	}
	return nil
}

// checkNumber answers 400/1002 for a number that is not E.164, and 403
// (Options.NotOwnedCode) for one that is not on the account.
func (s *Server) checkNumber(phone string) *apiError {
	var e apiError
	s.mu.Lock()
	owned := s.onAccount == nil || s.onAccount[phone]
	s.mu.Unlock()
	switch {
	case !e164.MatchString(phone):
		e = errNotE164
	case !owned:
		e = s.notOwned
	default:
		return nil
	}
	return &e
}

// ListContactCards implements GET /v3/contact_card.
func (s *Server) ListContactCards(ctx context.Context, req linq.ListContactCardsRequestObject) (linq.ListContactCardsResponseObject, error) {
	phone := req.Params.PhoneNumber
	if phone == nil {
		return encodedList(s.cardListBody()), nil
	}
	if e := s.checkNumber(*phone); e != nil {
		return listError(ctx, *e), nil
	}
	list := []linq.ContactCard{}
	if c, ok := s.Card(*phone); ok && (c.IsActive || !s.hideInactive) {
		list = append(list, c)
	}
	return linq.ListContactCards200JSONResponse{Body: linq.ContactCardList{ContactCards: list}}, nil
}

// CreateContactCard implements POST /v3/contact_card. The request is checked
// in the order 1001, 1002, 1005, 2006, 2014, 5007: what is wrong with the
// request itself first, then what the account allows, then the store, and
// last the image download.
func (s *Server) CreateContactCard(ctx context.Context, req linq.CreateContactCardRequestObject) (linq.CreateContactCardResponseObject, error) {
	b := req.Body
	switch {
	case b.PhoneNumber == "":
		return createError(ctx, errMissing("phone_number")), nil
	case strings.TrimSpace(b.FirstName) == "":
		return createError(ctx, errMissing("first_name")), nil
	case !e164.MatchString(b.PhoneNumber):
		return createError(ctx, errNotE164), nil
	}
	for _, e := range []*apiError{
		checkName("first_name", b.FirstName),
		checkName("last_name", deref(b.LastName)),
		checkImage(deref(b.ImageUrl)),
		s.checkNumber(b.PhoneNumber),
	} {
		if e != nil {
			return createError(ctx, *e), nil
		}
	}

	c := card{firstName: b.FirstName, lastName: deref(b.LastName), imageURL: RehostedURL(deref(b.ImageUrl)), active: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cards[b.PhoneNumber]; ok {
		return createError(ctx, errCardExists), nil
	}
	if e := fetchImage(deref(b.ImageUrl)); e != nil {
		return createError(ctx, *e), nil
	}
	s.cards[b.PhoneNumber] = c
	s.changedLocked()
	return linq.CreateContactCard200JSONResponse{Body: c.setContactCard(b.PhoneNumber)}, nil
}

// UpdateContactCard implements PATCH /v3/contact_card: the fields present in
// the body replace the card's, the others stay. An empty body object changes
// nothing and answers the card as it is.
//
// An empty last_name or image_url removes it from the card: the request
// schema has no null, so "" is the only way to clear a field. An image_url
// equal to the card's current (CDN) one is not new, so it is kept as is;
// any other is rehosted.
func (s *Server) UpdateContactCard(ctx context.Context, req linq.UpdateContactCardRequestObject) (linq.UpdateContactCardResponseObject, error) {
	phone := req.Params.PhoneNumber
	b := req.Body
	if !e164.MatchString(phone) {
		return updateError(ctx, errNotE164), nil
	}
	if b.FirstName != nil && strings.TrimSpace(*b.FirstName) == "" {
		return updateError(ctx, errInvalid("first_name must not be empty")), nil
	}
	for _, e := range []*apiError{
		checkName("first_name", deref(b.FirstName)),
		checkName("last_name", deref(b.LastName)),
		checkImage(deref(b.ImageUrl)),
		s.checkNumber(phone),
	} {
		if e != nil {
			return updateError(ctx, *e), nil
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[phone]
	switch {
	case !ok:
		return updateError(ctx, s.notFound), nil
	case !c.active:
		return updateError(ctx, s.inactive), nil
	}
	if b.FirstName != nil {
		c.firstName = *b.FirstName
	}
	if b.LastName != nil {
		c.lastName = *b.LastName
	}
	if b.ImageUrl != nil && *b.ImageUrl != c.imageURL {
		if e := fetchImage(*b.ImageUrl); e != nil {
			return updateError(ctx, *e), nil
		}
		c.imageURL = RehostedURL(*b.ImageUrl)
	}
	s.cards[phone] = c
	s.changedLocked()
	return linq.UpdateContactCard200JSONResponse{Body: c.setContactCard(phone)}, nil
}

// ListPhoneNumbers implements GET /v3/phone_numbers: the lines (Options.Lines,
// or the numbers with cards when none were given), sorted. A line's
// reputation is Options.Reputation's, HEALTHY when it has none there; its id
// is a UUID derived from the number, the same in every run.
func (s *Server) ListPhoneNumbers(ctx context.Context, req linq.ListPhoneNumbersRequestObject) (linq.ListPhoneNumbersResponseObject, error) {
	switch s.phoneStatus {
	case 0:
	case http.StatusForbidden:
		return linq.ListPhoneNumbers403JSONResponse{ForbiddenJSONResponse: linq.ForbiddenJSONResponse{Body: envelope(ctx, errAccessDenied)}}, nil
	case http.StatusNotFound:
		return linq.ListPhoneNumbers404JSONResponse{NotFoundJSONResponse: linq.NotFoundJSONResponse{Body: envelope(ctx, errNotFound)}}, nil
	case http.StatusServiceUnavailable:
		return linq.ListPhoneNumbers503JSONResponse{ServiceUnavailableJSONResponse: linq.ServiceUnavailableJSONResponse{Body: envelope(ctx, errUnavailable)}}, nil
	default:
		return linq.ListPhoneNumbers500JSONResponse{InternalServerErrorJSONResponse: linq.InternalServerErrorJSONResponse{Body: envelope(ctx, errInternal)}}, nil
	}
	return encodedList(s.lineListBody()), nil
}

// listError, createError and updateError turn e into the operation's
// generated response type. They panic for a status the spec does not declare
// for the operation: that is a bug in the fake, and the panic becomes a
// 500/3006 answer.
func listError(ctx context.Context, e apiError) linq.ListContactCardsResponseObject {
	body := envelope(ctx, e)
	switch e.status {
	case http.StatusBadRequest:
		return linq.ListContactCards400JSONResponse{BadRequestJSONResponse: linq.BadRequestJSONResponse{Body: body}}
	case http.StatusForbidden:
		return linq.ListContactCards403JSONResponse{ForbiddenJSONResponse: linq.ForbiddenJSONResponse{Body: body}}
	}
	panic(fmt.Sprintf("linqfake: status %d is not declared for GET %s", e.status, pathContactCard))
}

func createError(ctx context.Context, e apiError) linq.CreateContactCardResponseObject {
	body := envelope(ctx, e)
	switch e.status {
	case http.StatusBadRequest:
		return linq.CreateContactCard400JSONResponse{BadRequestJSONResponse: linq.BadRequestJSONResponse{Body: body}}
	case http.StatusForbidden:
		return linq.CreateContactCard403JSONResponse{ForbiddenJSONResponse: linq.ForbiddenJSONResponse{Body: body}}
	case http.StatusConflict:
		return linq.CreateContactCard409JSONResponse{ConflictJSONResponse: linq.ConflictJSONResponse{Body: body}}
	}
	panic(fmt.Sprintf("linqfake: status %d is not declared for POST %s", e.status, pathContactCard))
}

func updateError(ctx context.Context, e apiError) linq.UpdateContactCardResponseObject {
	body := envelope(ctx, e)
	switch e.status {
	case http.StatusBadRequest:
		return linq.UpdateContactCard400JSONResponse{BadRequestJSONResponse: linq.BadRequestJSONResponse{Body: body}}
	case http.StatusForbidden:
		return linq.UpdateContactCard403JSONResponse{ForbiddenJSONResponse: linq.ForbiddenJSONResponse{Body: body}}
	case http.StatusNotFound:
		return linq.UpdateContactCard404JSONResponse{NotFoundJSONResponse: linq.NotFoundJSONResponse{Body: body}}
	}
	panic(fmt.Sprintf("linqfake: status %d is not declared for PATCH %s", e.status, pathContactCard))
}

// Cards returns a copy of every stored card, sorted by phone number.
func (s *Server) Cards() []linq.ContactCard {
	stored := s.storedCards(false)
	list := make([]linq.ContactCard, 0, len(stored))
	for _, c := range stored {
		list = append(list, c.contactCard(c.phone))
	}
	return list
}

// storedCards returns a copy of the stored cards, the inactive ones left
// out if asked, sorted by phone number. The store is locked only while it
// is copied, not while the copy is sorted or sent.
func (s *Server) storedCards(activeOnly bool) []storedCard {
	s.mu.Lock()
	list := s.storedCardsLocked(activeOnly)
	s.mu.Unlock()
	return sortStored(list)
}

// sortStored sorts list by phone number and returns it.
func sortStored(list []storedCard) []storedCard {
	slices.SortFunc(list, func(a, b storedCard) int { return strings.Compare(a.phone, b.phone) })
	return list
}

// storedCardsLocked is storedCards, unsorted, for a caller holding s.mu.
func (s *Server) storedCardsLocked(activeOnly bool) []storedCard {
	list := make([]storedCard, 0, len(s.cards))
	for phone, c := range s.cards {
		if c.active || !activeOnly {
			list = append(list, storedCard{phone, c})
		}
	}
	return list
}

// Card returns a copy of the card of phone, and whether there is one.
func (s *Server) Card(phone string) (linq.ContactCard, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cards[phone]
	if !ok {
		return linq.ContactCard{}, false
	}
	return c.contactCard(phone), true
}

// PutCard stores c as it is, replacing any card of c.PhoneNumber: nothing is
// checked and image_url is not rehosted. It seeds the fake from a test, or
// simulates a manual edit in Linq's dashboard during a run.
func (s *Server) PutCard(c linq.ContactCard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cards[c.PhoneNumber] = cardFrom(c)
	s.changedLocked()
}
