"""-n with xdist's default distribution hands out whole packs (issue #9: each worker builds a pack's databases once)."""

from __future__ import annotations

from conftest import good_pack

SELECT = ("-m", "dashpacks_static or dashpacks_execute", "-p", "no:randomly")



def test_xdist_hands_out_whole_packs(packs, pytester):
    packs({name: text for n in range(4) for name, text in good_pack(f"p{n}").items()})
    result = pytester.runpytest("--dashpacks", "packs", *SELECT, "-n", "2", "-v", "-p", "no:cacheprovider")
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        if line.startswith("[gw") and " PASSED " in line:
            worker, _, node = line.partition(" PASSED ")
            workers.setdefault(node.split("/")[1], set()).add(worker.split("]")[0])
    assert sorted(workers) == ["p0", "p1", "p2", "p3"]
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    assert len(set().union(*workers.values())) == 2  # both workers had packs
    result = pytester.runpytest("--dashpacks", "packs", *SELECT, "-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider")
    assert result.ret == 0  # another --dist is left as chosen
