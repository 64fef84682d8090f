"""Jurisdiction profiles: the cn and fatf semantics of issue 3, strict TOML, and a bank's tuned copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainrisk.errors import InputError
from chainrisk.profiles import _DIR, available, load_profile
from chainrisk.taxonomy import CATEGORIES, ILLICIT

PROHIBITED_CN = ("exchange", "p2p_otc", "rwa_issuer", "stablecoin_issuer", "mining", "gambling")


def test_bundled_profiles_cover_the_whole_taxonomy() -> None:
    assert {"cn", "fatf"} <= set(available())
    for name in ("cn", "fatf"):
        p = load_profile(name)
        assert set(p.severity) == set(CATEGORIES) and p.name == name


def test_cn_prohibits_virtual_currency_business_alongside_everything_illicit() -> None:
    cn = load_profile("cn")
    for c in PROHIBITED_CN:
        assert cn.band(cn.severity[c]) in ("high", "severe"), c
    for c in ILLICIT:
        assert cn.band(cn.severity[c]) == "severe", c
    assert cn.band(cn.severity["token_contract"]) == "none"


def test_fatf_illicit_high_to_severe_regulated_services_informational() -> None:
    fatf = load_profile("fatf")
    for c in ("sanctions", "blacklist", "mixer", "scam", "hack", "darknet", "ransomware"):
        assert fatf.band(fatf.severity[c]) in ("high", "severe"), c
    for c in ("exchange", "rwa_issuer"):
        assert fatf.severity[c] == 0 and fatf.band(fatf.severity[c]) == "none", c
    # the same exchange exposure is prohibited under cn and informational under fatf
    assert load_profile("cn").severity["exchange"] > fatf.severity["exchange"]


def tuned(tmp_path: Path, old: str, new: str) -> Path:
    text = (_DIR / "cn.toml").read_text()
    assert old in text
    p = tmp_path / "bank.toml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_a_copied_and_tuned_profile_loads(tmp_path: Path) -> None:
    p = tuned(tmp_path, 'name = "cn"', 'name = "bank-cn-strict"')
    p.write_text(p.read_text().replace("mining = 65", "mining = 95").replace("max_hops = 6 ", "max_hops = 8 "))
    prof = load_profile(str(p))
    assert (prof.name, prof.severity["mining"], prof.propagation.max_hops, prof.source) == (
        "bank-cn-strict", 95, 8, "bank.toml")
    assert prof.band(prof.severity["mining"]) == "severe"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('name = "cn"', 'name = "cn"\ncolour = "red"', r"unknown key\(s\) colour; accepted: action, alerts, axes, bands, behaviour, description"),
    ("sanctions = 100", "sanctions = 100\nterrorist = 100", r"\[severity\]: unknown key\(s\) terrorist; accepted"),
    ("sanctions = 100\n", "", r"\[severity\]: missing sanctions"),
    ("blacklist = 90", "blacklist = 190", r"blacklist = 190: must be an integer 0\.\.100"),
    ("max_hops = 6", "max_hops = 6\nhops = 3", r"\[propagation\]: unknown key\(s\) hops"),
    ('sever_vc_at = "medium"', 'sever_vc_at = "always"', r"\[action\] sever_vc_at = 'always': give one of"),
    ('illicit = ["sanctions"', 'illicit = ["crime", "sanctions"', r"\[axes\] illicit: unknown key\(s\) crime"),
    ('stop_categories = ["exchange"', 'stop_categories = ["exchanges"', r"stop_categories: unknown key\(s\) exchanges"),
    ("high = 50", "high = 10", r"low <= medium <= high <= severe"),
    ("[bands]", "[bands\n", r"cannot read profile bank\.toml"),
    ("enabled = true", "enabled = 1", r"\[behaviour\] enabled: give true or false"),
    ('alone_at_most = "medium"', 'alone_at_most = "always"', r"\[behaviour\] alone_at_most = 'always': give one of"),
    ("min_part = 5.0", "min_part = 500", r"\[behaviour\] min_part = 500: give a number 0\.\.100"),
    ("corroborate_at = 20.0", "corroborate_at = 20.0\nweight = 2", r"\[behaviour\]: unknown key\(s\) weight"),
])
def test_unknown_keys_and_categories_are_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_profile(str(tuned(tmp_path, old, new)))


def test_the_behaviour_switch_turns_the_model_off(tmp_path: Path) -> None:
    on = load_profile("cn")
    off = load_profile(str(tuned(tmp_path, "enabled = true", "enabled = false")))
    assert on.behaviour.enabled and not off.behaviour.enabled
    assert on.to_dict()["behaviour"]["alone_at_most"] == "medium"


def test_unknown_profile_name() -> None:
    with pytest.raises(InputError, match=r"unknown profile 'eu'; bundled: .*cn.*fatf"):
        load_profile("eu")
