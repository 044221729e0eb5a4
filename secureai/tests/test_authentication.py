"""JWT users from the process's cache: read once, seen changed at once here and within the TTL elsewhere."""

import pytest
from django.contrib.auth.models import Group, Permission

from conftest import access_token_for
from realtime.auth import aidentify
from secureai.authentication import USERS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    USERS.clear()
    yield
    USERS.clear()


def get(client, path: str = "/api/analyses/"):
    return client.get(path)


def test_the_user_is_read_once_for_many_requests(owner, make_analysis, api_client, django_assert_num_queries):
    make_analysis(owner)
    client = api_client(owner)
    assert get(client).status_code == 200  # reads the user and the permissions
    with django_assert_num_queries(2):  # the page: a count and the rows; no user, no permissions
        assert get(client).status_code == 200


def test_a_deactivated_user_is_refused_at_once(owner, api_client):
    client = api_client(owner)
    assert get(client).status_code == 200
    owner.is_active = False
    owner.save()
    response = get(client)
    assert response.status_code == 401 and response.json()["code"] == "user_inactive"


def test_a_deleted_user_is_refused_at_once(owner, api_client):
    client = api_client(owner)
    assert get(client).status_code == 200
    owner.delete()
    assert get(client).status_code == 401


@pytest.mark.parametrize("grant", ["permission", "group", "group_permission", "member_from_the_group_side"])
def test_a_permission_change_is_seen_at_once(grant, owner, make_analysis, other_user, api_client):
    analysis = make_analysis(other_user)
    client = api_client(owner)
    path = f"/api/analyses/{analysis.pk}/"
    assert get(client, path).status_code == 404
    view_all = Permission.objects.get(codename="view_all_analyses")
    group = Group.objects.create(name="viewers")
    if grant == "permission":
        owner.user_permissions.add(view_all)
    elif grant == "group":
        group.permissions.add(view_all)
        assert get(client, path).status_code == 404  # not a member yet
        owner.groups.add(group)
    elif grant == "group_permission":
        owner.groups.add(group)
        assert get(client, path).status_code == 404  # the group grants nothing yet
        group.permissions.add(view_all)
    else:
        group.permissions.add(view_all)
        group.user_set.add(owner)
    assert get(client, path).status_code == 200


def test_a_change_made_elsewhere_is_seen_after_the_ttl(owner, api_client, settings):
    """Another process's change sends no signal here: the entry expires instead."""
    client = api_client(owner)
    assert get(client).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)  # no signal, as from another process
    assert get(client).status_code == 200  # still kept
    settings.JWT_USER_CACHE_SECONDS = 0
    assert get(client).status_code == 401


def test_requests_get_a_private_copy(owner):
    USERS.get(owner.pk)
    first, second = USERS.get(owner.pk), USERS.get(str(owner.pk))
    assert first is not second and first == second
    first.first_name = "changed"
    assert USERS.get(owner.pk).first_name != "changed"


@pytest.mark.django_db(transaction=True)
async def test_the_socket_token_check_shares_the_cache(owner, monkeypatch):
    token = access_token_for(owner)
    assert (await aidentify(token)).user == owner

    def no_query(*args, **kwargs):
        raise AssertionError("the user should come from the cache")

    monkeypatch.setattr(type(owner).objects, "get", no_query)
    assert (await aidentify(token)).user == owner
