"""Who sees which space: audiences decided by relationships, groups and staff roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from kith.community import access, services
from kith.core.errors import Forbidden, NotFound, ValidationFailed
from tests.community.conftest import portal_user


@pytest.fixture
def spaces(public_space, customer_space, partner_space, staff_space, group_space):
    return {
        "public": public_space,
        "customers": customer_space,
        "partners": partner_space,
        "staff": staff_space,
        "group": group_space,
    }


def _visible(user, spaces) -> set[str]:
    seen = set()
    for name, space in spaces.items():
        try:
            access.get_space(user, space.public_id)
            seen.add(name)
        except NotFound:
            pass
    return seen


def test_audiences(spaces, alice, bob, carol, cyd, pat):
    assert _visible(AnonymousUser(), spaces) == {"public"}
    assert _visible(carol, spaces) == {"public", "customers", "group"}
    assert _visible(cyd, spaces) == {"public", "customers"}
    assert _visible(pat, spaces) == {"public", "partners"}
    assert _visible(bob, spaces) == {"public", "customers", "partners", "staff"}
    assert _visible(alice, spaces) == set(spaces)


def test_portal_user_without_customer_role_sees_public_only(spaces, db):
    lurker = portal_user("lurker", role=None)
    assert _visible(lurker, spaces) == {"public"}


def test_customers_only_topic_is_not_found_for_partner_and_anonymous(customer_space, carol, pat):
    topic = services.create_topic(actor=carol, space=customer_space, title="Q?", body="How?")
    assert access.get_topic(carol, topic.public_id) == topic
    for user in (pat, AnonymousUser()):
        with pytest.raises(NotFound):
            access.get_topic(user, topic.public_id)
    post = topic.posts.get()
    with pytest.raises(NotFound):
        access.get_post(pat, post.public_id)


def test_group_space_topic_is_not_found_for_non_members(group_space, carol, cyd):
    topic = services.create_topic(
        actor=carol, space=group_space, title="Beta bug", body="It breaks"
    )
    with pytest.raises(NotFound):
        access.get_topic(cyd, topic.public_id)
    with pytest.raises(NotFound):
        services.create_topic(actor=cyd, space=group_space, title="In", body="Let me in")


def test_viewer_cannot_write(public_space, vic):
    with pytest.raises(Forbidden):
        services.create_topic(actor=vic, space=public_space, title="T", body="B")


def test_anonymous_cannot_write(public_space):
    from kith.core.errors import NotAuthenticated

    with pytest.raises(NotAuthenticated):
        services.create_topic(actor=AnonymousUser(), space=public_space, title="T", body="B")


def test_group_space_needs_group(alice):
    with pytest.raises(ValidationFailed) as exc:
        services.create_space(actor=alice, name="G", audience="group")
    assert exc.value.errors[0].field == "group"


def test_only_admins_and_managers_create_spaces(bob):
    with pytest.raises(Forbidden):
        services.create_space(actor=bob, name="Mine")


def test_timeline_mirror_obeys_the_topic(group_space, alice, bob, carol):
    """An interaction mirroring a group-space question is hidden from staff outside the group."""
    from kith.interactions import access as interaction_access
    from kith.interactions.models import Interaction

    services.create_topic(actor=carol, space=group_space, title="Beta secret", body="b")
    row = Interaction.objects.get(party=carol.person, kind="community.question")
    assert row.information_role == "seeking"
    assert interaction_access.scope_interactions(alice).filter(pk=row.pk).exists()
    assert not interaction_access.scope_interactions(bob).filter(pk=row.pk).exists()


def _fresh(user):
    """The user as a new request sees it (nothing read earlier in the request cached on it)."""
    from kith.accounts.models import User

    return User.objects.get(pk=user.pk) if user.is_authenticated else AnonymousUser()


def test_one_space_is_judged_as_the_list_of_visible_spaces_judges_it(
    spaces, alice, mia, bob, vic, carol, cyd, pat
):
    """``may_see_space`` (a post's space, on every vote) and ``visible_space_ids`` (lists)
    are the same rule: they agree for every audience, an archived space included."""
    from django.utils import timezone

    from kith.community.models import Space

    archived = services.create_space(actor=alice, name="Old", audience="customers")
    Space.objects.filter(pk=archived.pk).update(archived_at=timezone.now())
    archived.refresh_from_db()
    lurker = portal_user("lurker", role=None)
    for user in (AnonymousUser(), alice, mia, bob, vic, carol, cyd, pat, lurker):
        listed = set(access.visible_space_ids(_fresh(user)))
        for space in [*spaces.values(), archived]:
            judged = access.may_see_space(_fresh(user), space)
            assert judged == (space.pk in listed), (str(user), space.audience)
    assert not access.may_see_space(_fresh(alice), archived)


def test_a_public_space_needs_no_query_and_a_customers_space_one(
    spaces, carol, django_assert_num_queries
):
    user = _fresh(carol)
    with django_assert_num_queries(0):
        assert access.may_see_space(user, spaces["public"])
    with django_assert_num_queries(1):
        assert access.may_see_space(user, spaces["customers"])
    with django_assert_num_queries(1):
        assert not access.may_see_space(user, spaces["partners"])


def test_a_post_in_a_space_the_user_may_not_see_is_not_found(partner_space, pat, cyd):
    topic = services.create_topic(actor=pat, space=partner_space, title="Deal?", body="Terms")
    post = topic.posts.get()
    assert access.get_post(_fresh(pat), post.public_id) == post
    with pytest.raises(NotFound):
        access.get_post(_fresh(cyd), post.public_id)
    with pytest.raises(NotFound):
        access.get_post(AnonymousUser(), post.public_id)


def test_groups_read_earlier_in_the_request_decide_without_a_query(
    spaces, carol, cyd, django_assert_num_queries
):
    from kith.collab import access as collab_access

    member, outsider = _fresh(carol), _fresh(cyd)
    for user in (member, outsider):
        collab_access.active_group_ids(user)  # what a feed on the same page reads
    with django_assert_num_queries(0):
        assert access.may_see_space(member, spaces["group"])
        assert not access.may_see_space(outsider, spaces["group"])
    assert {spaces["group"].pk} <= set(access.visible_space_ids(member))
    assert spaces["group"].pk not in access.visible_space_ids(outsider)


def test_the_timeline_mirror_of_a_deleted_or_held_answer_follows_the_post(
    public_space, alice, vic, carol, cyd
):
    """A deleted answer is 404 to all but moderators (``get_post``); the interaction that
    mirrors it on the author's timeline follows the same rule, and so does a held one."""
    from kith.community.models import Post
    from kith.interactions import access as interaction_access
    from kith.interactions.models import Interaction

    topic = services.create_topic(actor=carol, space=public_space, title="Export?", body="How?")
    answer = services.reply(actor=cyd, topic=topic, body="Use the button.")
    row = Interaction.objects.get(party=cyd.person, kind="community.answer")
    assert interaction_access.scope_interactions(vic).filter(pk=row.pk).exists()
    Post.objects.filter(pk=answer.pk).update(hidden_at=answer.created_at)
    assert not interaction_access.scope_interactions(vic).filter(pk=row.pk).exists()
    Post.objects.filter(pk=answer.pk).update(hidden_at=None)
    services.delete_post(actor=cyd, post=answer)
    assert not interaction_access.scope_interactions(vic).filter(pk=row.pk).exists()
    assert interaction_access.scope_interactions(alice).filter(pk=row.pk).exists()
