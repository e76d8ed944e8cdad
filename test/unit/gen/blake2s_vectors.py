#!/usr/bin/env python3
"""Prints the expected values embedded in test_blake2s.c / test_kdf.c,
computed with Python's hashlib/hmac (an implementation independent of ours)."""
import hashlib, hmac

msg = lambda n: bytes(i & 0xff for i in range(n))
b2 = lambda m, n=32, k=b"": hashlib.blake2s(m, digest_size=n, key=k).hexdigest()
LENS = [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 1000]

for name, n, k in [("unkeyed", 32, b""), ("keyed", 32, msg(32)),
                   ("unkeyed16", 16, b""), ("keyed16", 16, msg(32)),
                   ("key1_out20", 20, msg(1)), ("key16_out1", 1, msg(16))]:
    print(f"/* {name} */")
    for L in LENS:
        print(f'    {{ {L}, "{b2(msg(L), n, k)}" }},')

hm = lambda k, m: hmac.new(k, m, hashlib.blake2s).digest()
print("/* hmac: keylen, msglen -> */")
for kl, ml in [(0, 0), (8, 10), (32, 1), (32, 33), (64, 64), (65, 100), (100, 200)]:
    print(f'    {{ {kl}, {ml}, "{hm(msg(kl), msg(ml)).hex()}" }},')
print("/* mac: keylen, msglen -> */")
for kl, ml in [(32, 0), (32, 116), (16, 132), (1, 64), (32, 65)]:
    print(f'    {{ {kl}, {ml}, "{b2(msg(ml), 16, msg(kl))}" }},')
print("/* kdf: C = bytes(range(32)) ^ seed, input = msg(inlen) -> t1 t2 t3 */")
for seed, il in [(0x00, 0), (0x5a, 32), (0xff, 100)]:
    c = bytes(b ^ seed for b in msg(32))
    t0 = hm(c, msg(il)); t1 = hm(t0, b"\1"); t2 = hm(t0, t1 + b"\2"); t3 = hm(t0, t2 + b"\3")
    print(f'    {{ 0x{seed:02x}, {il}, "{t1.hex()}",\n      "{t2.hex()}",\n      "{t3.hex()}" }},')
