package filter_test

import (
	"fmt"
	"strings"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

// ExampleCompile compiles a tcpdump expression for Ethernet frames and
// prints the start of the program as tcpdump -d would.
func ExampleCompile() {
	prog, err := filter.Compile("ip and tcp", capture.LinkTypeEthernet, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(filter.Disassemble(prog), "\n")
	fmt.Println(lines[0])
	fmt.Println(lines[1])
	// Output:
	// (000) ldh      [12]
	// (001) jeq      #0x800           jt 2	jf 15
}
