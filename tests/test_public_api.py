import queuecore


def test_exported_names_are_the_public_api() -> None:
    public = {name for name in dir(queuecore) if not name.startswith("_")}
    modules = {"backoff", "connection", "errors", "events", "job", "keys", "lua_loader",
               "options", "queue", "scripts", "worker", "embedded", "apps", "management",
               "conf", "registry", "sandbox", "discovery", "flow", "limits",
               "cron", "schedulers", "search", "pipelined", "text", "clients", "reads",
               "overview", "codes", "decisions",
               "driver", "direct"}
    assert public - modules == set(queuecore.__all__)


def test_every_method_has_an_async_twin() -> None:
    for cls in (queuecore.Queue, queuecore.Job, queuecore.FlowProducer, queuecore.Overview):
        for name in dir(cls):
            if name.startswith("_") or (name.startswith("a") and name[1:] in dir(cls)):
                continue
            attr = getattr(cls, name)
            if callable(attr) and name not in ("to_dict", "close", "raise_if_cancelled"):
                assert hasattr(cls, "a" + name), f"{cls.__name__}.{name} has no async twin"
