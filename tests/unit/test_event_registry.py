"""The registry of event types is the one list: lifecycles, timeline, alert texts and the
authority check read each type's entry, and every declared alert renders in three languages."""

from __future__ import annotations

import string

import pytest

from consumers.alerts.i18n import render_all
from consumers.alerts.rules_events import CODE_RULES, event_notices
from consumers.alerts.templates import TEMPLATES
from schemas.alerts import AlertRaised, AlertRule, DeclaredRule, rule_named
from schemas.common import Language
from schemas.events.registry import ALERT_TEXTS, ALL_EVENTS, ENTRIES, SPECS, spec_of
from schemas.events.spec import EventSpec
from schemas.lifecycles import MACHINES, machine_of, short_type
from tests.unit.alerts.world import context, fact

WITH_ALERTS = [spec for spec in ENTRIES if spec.alerts]


def test_the_machines_hold_exactly_the_steps_the_entries_declare():
    declared = {(spec.lifecycle[0], short_type(ce_type)): spec.lifecycle[1]
                for ce_type, spec in SPECS.items() if spec.lifecycle is not None}
    held = {(kind, name): step for kind, machine in MACHINES.items()
            for name, step in machine.steps.items()}
    assert held == declared
    for ce_type, spec in SPECS.items():
        machine = machine_of(ce_type)
        assert (machine.kind if machine else None) == (spec.lifecycle or (None,))[0], ce_type


def test_every_shared_type_has_an_entry_and_only_its_own():
    assert [spec.cls for spec in ENTRIES] == list(ALL_EVENTS)
    assert all(spec_of(cls) is SPECS[cls.ce_type()] for cls in ALL_EVENTS)
    assert spec_of(AlertRaised) is None


def test_the_code_rules_named_by_entries_exist_and_are_all_used():
    named = {rule for spec in ENTRIES for rule in spec.rules}
    assert named == set(CODE_RULES)


def test_declared_rules_have_one_text_each_and_the_templates_hold_it():
    for rule, texts in ALERT_TEXTS.items():
        assert {language: TEMPLATES[rule][language] for language in Language} == {
            Language.EN: texts.en, Language.ZH: texts.zh, Language.UR: texts.ur}
    assert {r.value for r in AlertRule} | set(ALERT_TEXTS) <= set(TEMPLATES)


def test_a_rule_name_is_the_enum_member_when_there_is_one_else_a_declared_rule():
    assert rule_named("customs_hold") is AlertRule.CUSTOMS_HOLD
    declared = rule_named("some_new_rule")
    assert isinstance(declared, DeclaredRule)
    assert declared.value == "some_new_rule"
    with pytest.raises(ValueError, match="not a rule name"):
        rule_named("Not A Rule")


@pytest.mark.parametrize("spec", WITH_ALERTS, ids=lambda s: s.cls.__name__)
def test_each_declared_alert_names_its_placeholders_and_renders_in_three_languages(
    spec: EventSpec,
) -> None:
    data = spec.cls.model_validate(spec.cls.EXAMPLE)
    for alert in spec.alerts:
        wanted = {name for _, name, _, _ in string.Formatter().parse(alert.texts.en) if name}
        assert set(alert.says(data)) == wanted, alert.rule
    notices = event_notices(fact(data), context())
    declared = {a.rule for a in spec.alerts if a.when(data)}
    assert {n.rule.value for n in notices} >= declared
    for notice in notices:
        texts = render_all(notice.message)
        assert texts.en
        assert texts.zh != texts.en
        assert texts.ur.startswith("\u200f")
        assert "{" not in texts.en + texts.zh + texts.ur


def test_every_code_rule_says_what_it_reads():
    from consumers.alerts.context import RULE_NEEDS  # noqa: PLC0415

    assert set(RULE_NEEDS) == set(CODE_RULES)
