package portal

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mxdesk/mxdesk/outbound"
)

// TestSetBrandReachesEveryPage: the brand is swapped while pages are being served (a
// reload); the pages after it show the new name, and link a stylesheet under a new URL
// that has the new colour, so a browser's cached copy of the old one is not used.
func TestSetBrandReachesEveryPage(t *testing.T) {
	s, err := New(nil, nil, nil, outbound.Brand{Name: "Old Name", Color: "#112233"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", path, w.Code)
		}
		return w.Body.String()
	}
	link := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`)
	page := get("/")
	oldCSS := link.FindStringSubmatch(page)[1]
	if !strings.Contains(page, "Old Name") || !strings.Contains(get(oldCSS), "#112233") {
		t.Fatal("the brand at start is not on the page")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // pages served while the brand changes
		defer wg.Done()
		for range 50 {
			get("/")
			get("/portal.css")
		}
	}()
	s.SetBrand(outbound.Brand{Name: "New Name", Color: "#445566"})
	wg.Wait()
	page = get("/")
	newCSS := link.FindStringSubmatch(page)[1]
	if !strings.Contains(page, "New Name") || strings.Contains(page, "Old Name") {
		t.Error("the page does not show the new name")
	}
	if newCSS == oldCSS {
		t.Errorf("the stylesheet URL %s did not change with the colour", newCSS)
	}
	if css := get(newCSS); !strings.Contains(css, "#445566") || strings.Contains(css, "#112233") {
		t.Error("the stylesheet does not have the new colour")
	}
	// A colour that is not a hex colour never reaches the stylesheet.
	s.SetBrand(outbound.Brand{Name: "X", Color: "red;}body{display:none"})
	if css := get("/portal.css"); strings.Contains(css, "display:none") {
		t.Error("an unsafe colour reached the stylesheet")
	}
}
