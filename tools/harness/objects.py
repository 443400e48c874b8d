"""Resource types of the standard objects the harness server knows, from the OMA LwM2M registry
(Core 1.1.1 Appendix E for 1 and 3, Object 4, IPSO 3303), kept here and not read from the
firmware: the server decodes TLV values (which carry no type) by what the object definition
says, as a real server does with its model files."""

_TYPES = {
    1: "0i 1i 2i 3i 4e 5i 6b 7s 8e 9e 10l 11i 12t 13i 14i 15b 16b 17i 18i 19i 20i 21b 22s 23b",
    3: "0s 1s 2s 3s 4e 5e 6i 7i 8i 9i 10i 11i 12e 13t 14s 15s 16s 17s 18s 19s 20i 21i 22s",
    4: "0i 1i 2i 3i 4s 5s 6i 7s 8i 9i 10i 11f 12i",
    3303: "5601f 5602f 5603f 5604f 5605e 5700f 5701s 5750s 5518t 6042i",
}
_PARSED = {}


def res_type(oid, rid):
    """Type letter of resource rid of object oid (s i f b t o l e), or None if unknown."""
    if oid not in _PARSED:
        _PARSED[oid] = {int(x[:-1]): x[-1] for x in _TYPES.get(oid, "").split()}
    return _PARSED[oid].get(rid)


def path_type(p):
    return res_type(p[0], p[2]) if len(p) >= 3 else None
