package html

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/wiretrace/wiretrace/correlate/tree"
)

// Geometry of the service map, in SVG user units.
const (
	nodeW   = 180
	nodeH   = 46
	colW    = 370
	rowH    = 96
	marginX = 20
	marginY = 30
)

// layout places the services in layers by call depth, left to right: a
// service that nobody calls is in layer 0, and every other service is one
// layer right of its deepest caller (edges that close a cycle are ignored
// for this). Within a layer services are ordered by the mean position of
// their callers, a few sweeps of the barycentre heuristic, ties broken by
// name, so the layout is deterministic. It fills X, Y and Layer.
func layout(nodes []jNode, edges []jEdge) {
	if len(nodes) == 0 {
		return
	}
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		idx[n.Name] = i
	}
	out := make([][]int, len(nodes))
	in := make([][]int, len(nodes))
	for _, e := range edges {
		a, b := idx[e.From], idx[e.To]
		if a == b {
			continue
		}
		out[a] = append(out[a], b)
		in[b] = append(in[b], a)
	}
	// Depth-first search from the uncalled services (then from whatever
	// is left, in name order) drops the edges that close cycles.
	const (
		white = iota
		grey
		black
	)
	colour := make([]int, len(nodes))
	var order []int // reverse postorder = topological order of the DAG
	dag := make([][]int, len(nodes))
	var visit func(u int)
	visit = func(u int) {
		colour[u] = grey
		for _, v := range out[u] {
			switch colour[v] {
			case white:
				dag[u] = append(dag[u], v)
				visit(v)
			case black:
				dag[u] = append(dag[u], v)
			}
		}
		colour[u] = black
		order = append(order, u)
	}
	for i := range nodes {
		if len(in[i]) == 0 && colour[i] == white {
			visit(i)
		}
	}
	for i := range nodes {
		if colour[i] == white {
			visit(i)
		}
	}
	slices.Reverse(order)
	depth := make([]int, len(nodes))
	for _, u := range order {
		for _, v := range dag[u] {
			depth[v] = max(depth[v], depth[u]+1)
		}
	}
	nl := slices.Max(depth) + 1
	layers := make([][]int, nl)
	for i := range nodes {
		layers[depth[i]] = append(layers[depth[i]], i)
	}
	pos := make([]float64, len(nodes))
	setPos := func() {
		for _, l := range layers {
			for j, u := range l {
				pos[u] = float64(j)
			}
		}
	}
	setPos()
	for sweep := 0; sweep < 4; sweep++ {
		for li := 1; li < nl; li++ {
			bary := map[int]float64{}
			for _, u := range layers[li] {
				sum, n := 0.0, 0
				for _, p := range in[u] {
					if depth[p] < li {
						sum += pos[p]
						n++
					}
				}
				if n > 0 {
					bary[u] = sum / float64(n)
				} else {
					bary[u] = pos[u]
				}
			}
			slices.SortStableFunc(layers[li], func(a, b int) int {
				return cmp.Or(cmp.Compare(bary[a], bary[b]), cmp.Compare(nodes[a].Name, nodes[b].Name))
			})
			setPos()
		}
	}
	tallest := 0
	for _, l := range layers {
		tallest = max(tallest, len(l))
	}
	for li, l := range layers {
		off := (tallest - len(l)) * rowH / 2
		for j, u := range l {
			nodes[u].Layer = li
			nodes[u].X = marginX + li*colW
			nodes[u].Y = marginY + off + j*rowH
		}
	}
}

// renderMap draws the laid-out services and their edges as SVG.
func renderMap(nodes []jNode, edges []jEdge) string {
	var b strings.Builder
	if len(nodes) == 0 {
		return `<p class="empty">No services: no spans were seen.</p>`
	}
	w, h := 0, 0
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		idx[n.Name] = i
		w = max(w, n.X+nodeW+marginX)
		h = max(h, n.Y+nodeH+marginY+40)
	}
	fmt.Fprintf(&b, `<svg id="service-map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="service map">`, w, h, w, h)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>` +
		`<marker id="arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead err"/></marker></defs>`)
	esc := html.EscapeString
	for _, e := range edges {
		a, c := nodes[idx[e.From]], nodes[idx[e.To]]
		var d string
		var lx, ly float64
		switch {
		case e.From == e.To:
			x, y := float64(a.X+nodeW-30), float64(a.Y)
			d = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x, y, x-10, y-45, x+50, y-45, x+30, y+2)
			lx, ly = x+20, y-38
		case c.Layer > a.Layer:
			x0, y0 := float64(a.X+nodeW), float64(a.Y+nodeH/2)
			x3, y3 := float64(c.X), float64(c.Y+nodeH/2)
			dx := (x3 - x0) / 2
			d = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x0, y0, x0+dx, y0, x3-dx, y3, x3, y3)
			lx, ly = (x0+x3)/2, (y0+y3)/2-6
		default: // back edge or same layer: loop under the nodes
			x0, y0 := float64(a.X+nodeW/2), float64(a.Y+nodeH)
			x3, y3 := float64(c.X+nodeW/2), float64(c.Y+nodeH)
			dip := 60.0
			d = fmt.Sprintf("M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f", x0, y0, x0, y0+dip, x3, y3+dip, x3, y3)
			lx, ly = (x0+x3)/2, (y0+y3)/2+dip*0.75+12
		}
		cls, marker := "edge", "arrow"
		if e.Errors > 0 {
			cls, marker = "edge err", "arrow-err"
		}
		label := fmt.Sprintf("%d · %s err", e.Count, pct(e.ErrorRate))
		label2 := fmt.Sprintf("p50 %s · p99 %s", tree.Duration(e.P50), tree.Duration(e.P99))
		fmt.Fprintf(&b, `<g class="%s" data-from="%s" data-to="%s" data-count="%d"><title>%s → %s (%s)&#10;%d calls, %d errors (%s)&#10;p50 %s, p99 %s</title>`,
			cls, esc(e.From), esc(e.To), e.Count, esc(e.From), esc(e.To), esc(strings.Join(e.Protocols, ", ")),
			e.Count, e.Errors, pct(e.ErrorRate), tree.Duration(e.P50), tree.Duration(e.P99))
		fmt.Fprintf(&b, `<path d="%s" marker-end="url(#%s)" stroke-width="%.1f"/>`, d, marker, edgeWidth(e.Count))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" class="edge-label">%s</text><text x="%.0f" y="%.0f" class="edge-label">%s</text></g>`,
			lx, ly-12, esc(label), lx, ly, esc(label2))
	}
	for _, n := range nodes {
		cls := "node"
		if n.Errors > 0 {
			cls = "node err"
		}
		name := n.Name
		if len([]rune(name)) > 24 {
			name = string([]rune(name)[:23]) + "…"
		}
		sub := strings.Join(n.Protocols, ",")
		if n.Served > 0 {
			sub = fmt.Sprintf("%s · %d req", sub, n.Served)
		} else {
			sub = fmt.Sprintf("client · %d calls", n.Calls)
		}
		fmt.Fprintf(&b, `<g class="%s" data-service="%s" tabindex="0"><title>%s&#10;served %d (%d errors), called out %d</title>`,
			cls, esc(n.Name), esc(n.Name), n.Served, n.Errors, n.Calls)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="8"/>`, n.X, n.Y, nodeW, nodeH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="node-name">%s</text>`, n.X+nodeW/2, n.Y+19, esc(name))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="node-sub">%s</text></g>`, n.X+nodeW/2, n.Y+36, esc(sub))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func edgeWidth(n uint64) float64 {
	w := 1.2
	for n > 1 && w < 6 {
		n /= 4
		w += 0.8
	}
	return w
}

func pct(f float64) string {
	switch {
	case f == 0:
		return "0%"
	case f < 0.001:
		return "<0.1%"
	case f < 0.1:
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return fmt.Sprintf("%.0f%%", f*100)
}
