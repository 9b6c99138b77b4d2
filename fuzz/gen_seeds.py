#!/usr/bin/env python3
"""Write a small seed corpus for the fuzz targets (synthetic frames, nothing copied from
../shared). Run from fuzz/: python3 gen_seeds.py"""
import os
import struct

SRC, DST = bytes([10, 0, 0, 1]), bytes([192, 168, 1, 2])
MAC = bytes([2, 0, 0, 0, 0, 2]) + bytes([2, 0, 0, 0, 0, 1])


def ipv4(proto, payload, frag=0, src=SRC, dst=DST):
    return struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(payload), 0x1234, frag, 64, proto, 0) + src + dst + payload


def ipv6(nxt, payload):
    a = bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [1])
    b = bytes([0x20, 1, 0xd, 0xb8] + [0] * 11 + [2])
    return struct.pack(">IHBB", 0x60000000, len(payload), nxt, 64) + a + b + payload


def udp(sp, dp, payload):
    return struct.pack(">HHHH", sp, dp, 8 + len(payload), 0) + payload


def tcp(sp, dp, flags=0x02, opts=b""):
    return struct.pack(">HHIIBBHHH", sp, dp, 1, 0, (5 + len(opts) // 4) << 4, flags, 1024, 0, 0) + opts


def eth(et, payload, tags=()):
    out = MAC
    for tpid, tci in tags:
        out += struct.pack(">HH", tpid, tci)
    return out + struct.pack(">H", et) + payload


inner = ipv4(6, tcp(1111, 80, opts=bytes([2, 4, 5, 0xb4, 1, 3, 3, 7])), src=bytes([172, 16, 0, 1]))
frames = {
    "eth_tcp": (0, eth(0x0800, ipv4(6, tcp(50000, 443)))),
    "eth_qinq_v6": (0, eth(0x86DD, ipv6(17, udp(546, 547, b"x" * 8)), [(0x88A8, 5), (0x8100, 6)])),
    "eth_dns": (0, eth(0x0800, ipv4(17, udp(40000, 53, bytes(range(16)))))),
    "eth_frag": (0, eth(0x0800, ipv4(17, b"\0" * 16, frag=0x2000 | 185))),
    "eth_mpls": (0, eth(0x8847, bytes([0, 1, 0x41, 64]) + ipv4(1, bytes([8, 0, 0, 0])))),
    "eth_pppoe": (0, eth(0x8864, bytes([0x11, 0, 0, 1, 0, 40, 0, 0x21]) + ipv4(17, udp(1, 2, b"")))),
    "vxlan": (0, eth(0x0800, ipv4(17, udp(5000, 4789, bytes([8, 0, 0, 0, 0, 0, 42, 0]) + eth(0x0800, inner))))),
    "gtp": (0, eth(0x0800, ipv4(17, udp(2152, 2152, bytes([0x34, 0xFF, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0x85, 1, 0, 0, 0]) + inner)))),
    "gre_key": (0, eth(0x0800, ipv4(47, struct.pack(">HHI", 0x2000, 0x0800, 7) + inner))),
    "pptp": (0, eth(0x0800, ipv4(47, struct.pack(">HHHH", 0x3001, 0x880B, 44, 5) + b"\0\0\0\1\xff\x03\x00\x21" + inner))),
    "erspan3": (0, eth(0x0800, ipv4(47, struct.pack(">HHI", 0x1000, 0x22EB, 1) + bytes(11) + b"\1" + bytes(8) + eth(0x0800, inner)))),
    "geneve": (0, eth(0x0800, ipv4(17, udp(1, 6081, bytes([1, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0]) + eth(0x0800, inner))))),
    "ipip6": (3, ipv6(4, inner)),
    "sll": (1, struct.pack(">HHH", 0, 1, 6) + MAC[:6] + b"\0\0" + b"\x08\x00" + inner),
    "sll2": (2, b"\x86\xdd\0\0\0\0\0\1\0\1\0\6" + MAC[:8] + ipv6(58, bytes([128, 0, 0, 0]))),
    "null": (8, struct.pack("<I", 2) + inner),
    "loop6": (9, struct.pack(">I", 30) + ipv6(59, b"")),
    "ppp": (10, b"\xff\x03\x00\x21" + inner),
    "chdlc": (12, b"\x0f\x00\x08\x00" + inner),
}
os.makedirs("corpus/parse_frame", exist_ok=True)
for name, (sel, frame) in frames.items():
    with open(f"corpus/parse_frame/{name}", "wb") as f:
        f.write(bytes([sel]) + frame)

# Capture files: classic (both byte orders) and pcapng with two interfaces and an SPB.
os.makedirs("corpus/capture_reader", exist_ok=True)
pkts = [f for _, f in list(frames.values())[:4]]


def classic(endian, magic):
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(pkts):
        out += struct.pack(endian + "IIII", 1700000000 + i, i, len(p), len(p)) + p
    return out


def block(t, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", t, n) + body + struct.pack("<I", n)


ng = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
ng += block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + b"\0" * 4)
ng += block(1, struct.pack("<HHI", 101, 0, 128))
ng += block(6, struct.pack("<IIIII", 0, 1, 2, len(pkts[0]), len(pkts[0])) + pkts[0])
ng += block(6, struct.pack("<IIIII", 1, 1, 3, 20, 40) + inner[:20])
ng += block(3, struct.pack("<I", len(pkts[1])) + pkts[1])
ng += block(2, struct.pack("<HHIIII", 0, 0, 0, 5, len(pkts[2]), len(pkts[2])) + pkts[2])
for name, data in {"classic_le": classic("<", 0xA1B2C3D4), "classic_be_ns": classic(">", 0xA1B23C4D), "pcapng": ng}.items():
    with open(f"corpus/capture_reader/{name}", "wb") as f:
        f.write(data)
print(f"{len(frames)} frame seeds, 3 capture seeds")
