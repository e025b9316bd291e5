"""Postcode lookup from the bundled district centroids."""

import pytest

from placements.geo import PostcodeError, haversine_km, locate, normalise_postcode


@pytest.mark.parametrize(("raw", "expected"), [
    ("m1 4bt", "M1 4BT"), ("M14BT", "M1 4BT"), ("  sw1a 1aa ", "SW1A 1AA"),
    ("M60", "M60"), ("ec1v 9lt", "EC1V 9LT"),
])
def test_normalise_accepts_real_shapes(raw, expected):
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "12345", "M1 4B", "MMM1 4BT", "M1 4BTX", "<script>",
                                 "M1-4BT", "ZZ"])
def test_malformed_postcodes_are_errors(raw):
    with pytest.raises(PostcodeError, match="real UK postcode"):
        normalise_postcode(raw)


def test_locate_uses_district_centroid():
    located = locate("M1 4BT")
    assert located.postcode == "M1 4BT"
    assert located.district.district == "M1"
    assert located.district.region == "North West"
    assert 53.4 < located.lat < 53.5
    assert -2.3 < located.lon < -2.2


def test_unknown_district_is_an_error_not_zero_zero():
    with pytest.raises(PostcodeError, match="ZZ9"):
        locate("ZZ9 9ZZ")


def test_non_geographic_district_cannot_be_located():
    with pytest.raises(PostcodeError):
        locate("EH77 1AA")


def test_haversine_known_distance():
    # Manchester M1 to Leeds LS1 is about 57 km as the crow flies.
    m1, ls1 = locate("M1 1AA"), locate("LS1 1AA")
    assert 50 < haversine_km(m1.lat, m1.lon, ls1.lat, ls1.lon) < 62
    assert haversine_km(m1.lat, m1.lon, m1.lat, m1.lon) == 0
