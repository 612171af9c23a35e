// Package filter compiles tcpdump filter expressions (pcap-filter(7)) to
// classic BPF in pure Go, prints programs like "tcpdump -d" and "-ddd",
// parses "-ddd" output, and matches packets with a [Filter].
//
// [Compile] goes lexer → parser (AST) → code generator. The generator emits
// forward jumps to labels and resolves them at the end; a conditional jump
// further than 255 instructions goes through a "ja". Programs accept with
// the snaplen and reject with 0, and never exceed the kernel's 4096
// instructions. Programs differ in shape from libpcap's (no optimizer) but
// not in what they accept: a test runs every expression of a table over
// public captures of each link type with tcpdump and compares.
//
// # Supported
//
//   - protocols: ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp,
//     ether proto N (also \ip, \ip6, \arp), ip proto N, ip6 proto N, proto N;
//     like libpcap, ip6 protocols also match behind one fragment header;
//   - host, net (CIDR, "net X mask Y", classful "net 10.1"), port,
//     portrange A-B, with src, dst, "src or dst", "src and dst" and the
//     protocol qualifiers ip, ip6, arp, rarp (host/net) or tcp, udp, sctp
//     (port/portrange); a bare value repeats the previous qualifiers
//     ("host a or b", "tcp port 80 or 443"); IPv4 hosts also match ARP and
//     RARP addresses, as in libpcap;
//   - ether host/src/dst MAC, ether broadcast, ether multicast (Ethernet
//     only, as in libpcap);
//   - vlan [ID]: each vlan moves the offsets of every later primitive by
//     four bytes, whatever the and/or structure, exactly as tcpdump does,
//     so "vlan and tcp" and "tcp and vlan" differ (Ethernet only);
//   - vxlan [VNI] and geneve [VNI]: UDP to destination port 4789 or 6081
//     over IPv4 (first fragment) or IPv6 (UDP as next header), Geneve
//     version 0, with that VNI if given; like tcpdump's geneve, every
//     primitive after one looks inside the tunnel (offsets relative to the
//     inner Ethernet frame, or for Geneve carrying IP to its protocol
//     field), whatever the and/or structure, and vlan counts inner tags
//     from there. The inner offsets are computed when the tunnel test
//     passes and kept in scratch memory (M[12] to M[15], at most two
//     nested tunnels), as libpcap does; they start at 0, so a primitive
//     after a tunnel test that failed looks at the outer packet;
//   - greater N, less N, and, &&, or, ||, not, !, parentheses; and and or
//     have equal precedence and associate left to right (pcap-filter(7));
//   - relations proto[expr:size] with = == != < <= > >=, the arithmetic
//     operators "+ - * / % & | ^ << >>" and unary minus, len, and the named constants
//     tcpflags, tcp-fin … tcp-cwr, icmptype, icmpcode, icmp-echo …,
//     icmp6type, icmp6-echo …; offsets may be expressions
//     (tcp[((tcp[12]&0xf0)>>2):4]), loaded through the X register;
//   - port and tcp[]/udp[]/icmp[] on IPv4 skip non-first fragments and
//     find the transport header with "ldxb 4*([nl]&0xf)"; IPv6 ports need
//     the transport as next header (no extension header walking), both as
//     in libpcap.
//
// Link types: Ethernet (1), Linux SLL (113), Linux SLL2 (276), raw IP
// (101, by version nibble; 228 and 229), BSD NULL (0, address family in
// either byte order; IPv6 as 24, 28 or 30 like libpcap reading a file) and
// LOOP (108).
//
// # In the kernel
//
// [Filter.Kernel] builds the program to attach to a live AF_PACKET socket
// so that the kernel drops what the expression rejects before it is queued:
// on a cooked socket ("any") the kernel's packet starts at the network
// layer and its link protocol is the ancillary load SKF_AD_PROTOCOL; the
// outer VLAN tag of a received frame is in the packet's metadata
// (SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TAG), so the first vlan primitive
// becomes ancillary loads and the later offsets move back by four, as
// libpcap does; len adds back the cooked header and the tag. Only ether[]
// and link[] relations, and "ether proto" of a VLAN TPID, have no exact
// kernel form: tagged frames then go to user space
// ([KernelProgram.Recheck]), and on a cooked socket an expression with
// ether[] or link[] does entirely ([ErrNotExact]). A test compares every kernel program on real
// sockets with the user-space filter on the same traffic.
//
// # Not supported
//
// Host and port names that need resolving (hostnames, /etc/services beyond
// a few well-known ports, /etc/ethers), gateway, protochain, ip broadcast
// and ip multicast (they need the netmask), mpls, pppoed/pppoes, llc, the 802.11, FDDI, Token Ring, DECnet, ISO and other legacy
// protocols, inbound/outbound and the pflog/Linux ancillary fields, and
// ether proto values ≤ 1500 (802.3 length field; they compare the raw
// field). Relations keep the header checks of both operands: libpcap drops
// those of the right operand of an arithmetic operator, so "ether[0] -
// ip[1] > 3" matches ARP packets in tcpdump but not here.
//
// # Concurrency and ownership
//
// Compile, ParseDdd and Disassemble are pure and safe for concurrent use.
// A [Filter] caches one program per link type and is not; use one per
// worker. Filter.Match does not allocate or retain data.
package filter
