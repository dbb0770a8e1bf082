"""The settings file every command reads: photofeed.toml in the current directory, else
<data_dir>/settings.toml (written by `photofeed up`), under the PHOTOFEED_* variables."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
import typer

from infra.settings import (
    Settings,
    SettingsFileError,
    load_settings,
    read_settings_file,
    settings_file_path,
    write_settings_file,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_explicit_env_stays_pure_unless_files_are_asked_for(tmp_path: Path) -> None:
    write(tmp_path / "photofeed.toml", "gateway_port = 9000\n")
    assert load_settings({}, cwd=tmp_path) == Settings()
    assert load_settings({}, files=True, cwd=tmp_path).gateway_port == 9000
    assert load_settings({}, files=False, cwd=tmp_path) == Settings()


def test_no_file_means_the_defaults(tmp_path: Path) -> None:
    assert settings_file_path(Path(".photofeed"), tmp_path) is None
    assert load_settings({}, files=True, cwd=tmp_path) == Settings()


def test_precedence_env_over_photofeed_toml_over_data_dir_file_over_defaults(
    tmp_path: Path,
) -> None:
    data = tmp_path / ".photofeed"
    write(data / "settings.toml", "gateway_port = 8100\nworker_port = 8101\nkafka_port = 19092\n")
    # only the data dir's file: it beats the defaults
    loaded = load_settings({}, files=True, cwd=tmp_path)
    assert (loaded.gateway_port, loaded.worker_port, loaded.kafka_port) == (8100, 8101, 19092)
    assert loaded.redis_port == Settings().redis_port
    # photofeed.toml, when present, is the file read: the data dir's is not layered under it
    write(tmp_path / "photofeed.toml", "gateway_port = 8200\nworker_port = 8201\n")
    loaded = load_settings({}, files=True, cwd=tmp_path)
    assert (loaded.gateway_port, loaded.worker_port, loaded.kafka_port) == (8200, 8201, 9092)
    # the environment beats either file
    env = {"PHOTOFEED_GATEWAY_PORT": "8300"}
    loaded = load_settings(env, files=True, cwd=tmp_path)
    assert (loaded.gateway_port, loaded.worker_port) == (8300, 8201)
    (tmp_path / "photofeed.toml").unlink()
    loaded = load_settings(env, files=True, cwd=tmp_path)
    assert (loaded.gateway_port, loaded.worker_port) == (8300, 8101)


def test_the_data_dir_file_is_found_under_the_data_dir_the_env_names(tmp_path: Path) -> None:
    write(tmp_path / "elsewhere" / "settings.toml", "topic_partitions = 2\n")
    write(tmp_path / ".photofeed" / "settings.toml", "topic_partitions = 9\n")
    absolute = {"PHOTOFEED_DATA_DIR": str(tmp_path / "elsewhere")}
    assert load_settings(absolute, files=True, cwd=tmp_path / "x").topic_partitions == 2
    relative = {"PHOTOFEED_DATA_DIR": "elsewhere"}
    assert load_settings(relative, files=True, cwd=tmp_path).topic_partitions == 2
    assert load_settings({}, files=True, cwd=tmp_path).topic_partitions == 9


def test_toml_values_are_typed_and_strings_convert_like_env_values(tmp_path: Path) -> None:
    path = write(
        tmp_path / "photofeed.toml",
        'api_host = "0.0.0.0"\n'
        "log_json = false\n"
        's3_secure = "yes"\n'
        "login_backoff_base_s = 2\n"
        "outage_budget_s = 12.5\n"
        'fetch_wait_ms = "50"\n'
        'data_dir = "/srv/photofeed"\n',
    )
    values = read_settings_file(path)
    assert values == {
        "api_host": "0.0.0.0", "log_json": False, "s3_secure": True,
        "login_backoff_base_s": 2.0, "outage_budget_s": 12.5, "fetch_wait_ms": 50,
        "data_dir": Path("/srv/photofeed"),
    }  # fmt: skip
    assert isinstance(values["login_backoff_base_s"], float)
    loaded = load_settings({}, files=True, cwd=tmp_path)
    assert loaded == Settings(**values)


@pytest.mark.parametrize(
    "line",
    [
        "gateway_port = 80.5",
        "gateway_port = true",
        'gateway_port = "eighty"',
        "log_json = 1",
        'log_json = "maybe"',
        "outage_budget_s = false",
        "host = 127",
        "kafka_port = [9092]",
    ],
)
def test_a_value_of_the_wrong_type_names_the_file_and_key(tmp_path: Path, line: str) -> None:
    path = write(tmp_path / "photofeed.toml", line + "\n")
    key = line.split(" = ")[0]
    with pytest.raises(SettingsFileError, match=rf"{re.escape(str(path))}.*{key}"):
        load_settings({}, files=True, cwd=tmp_path)


def test_an_unknown_key_names_the_file_and_key(tmp_path: Path) -> None:
    path = write(tmp_path / ".photofeed" / "settings.toml", "gateway_prot = 8000\n")
    with pytest.raises(
        SettingsFileError, match=rf"{re.escape(str(path))}: unknown setting 'gateway_prot'"
    ):
        load_settings({}, files=True, cwd=tmp_path)
    write(path, "extra = 1\n")
    with pytest.raises(SettingsFileError, match="unknown setting 'extra'"):
        load_settings({}, files=True, cwd=tmp_path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "photofeed.toml", "gateway_port = \n")
    with pytest.raises(SettingsFileError, match=rf"{re.escape(str(path))}: not valid TOML"):
        load_settings({}, files=True, cwd=tmp_path)


def test_the_file_up_writes_round_trips_with_mode_0600(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, gateway_port=8123, api_host="0.0.0.0", log_json=False,
        outage_budget_s=1e-05, login_backoff_max_s=float("inf"), token_secret='q"uo\\te\n é',
        web_origins="http://a.example,http://b.example", topic_partitions=2,
    )  # fmt: skip
    path = write_settings_file(settings)
    assert path == data / "settings.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "gateway_port = 8123" in text
    assert "redis_port" not in text  # defaults are not written
    assert "data_dir" not in text  # it is where the file is found
    env = {"PHOTOFEED_DATA_DIR": str(data)}
    assert load_settings(env, files=True, cwd=tmp_path) == settings
    # rewriting replaces the file (a second `up` with other settings)
    write_settings_file(settings.with_(gateway_port=8124, log_json=True))
    again = load_settings(env, files=True, cwd=tmp_path)
    assert again == settings.with_(gateway_port=8124, log_json=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_defaults_write_an_empty_file_that_loads_as_the_defaults(tmp_path: Path) -> None:
    path = write_settings_file(Settings(data_dir=tmp_path))
    assert read_settings_file(path) == {}


def test_extra_variables_are_not_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, extra={"feature_x": "on"})
    assert "feature_x" not in write_settings_file(settings).read_text()


def test_up_writes_the_effective_settings_and_never_touches_photofeed_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import photofeed.cli as cli

    def stop(settings: Settings) -> None:
        raise typer.Exit(3)  # the file is written before the stack starts

    monkeypatch.setattr(cli, "_stack_up", stop)
    monkeypatch.setattr(cli, "configure_logging", lambda level, as_json: None)
    for name in [k for k in os.environ if k.startswith("PHOTOFEED_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    mine = write(tmp_path / "photofeed.toml", "# mine\ntopic_partitions = 2\n")
    monkeypatch.setenv("PHOTOFEED_GATEWAY_PORT", "8555")
    monkeypatch.setenv("PHOTOFEED_LOG_JSON", "false")
    with pytest.raises(typer.Exit):
        cli.up(foreground=False, workers=None, gateway_workers=None)
    assert mine.read_text() == "# mine\ntopic_partitions = 2\n"
    written = tmp_path / ".photofeed" / "settings.toml"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    expected = Settings(gateway_port=8555, log_json=False, topic_partitions=2)
    assert Settings(**read_settings_file(written)) == expected
    # from the same directory without photofeed.toml and without variables: the same settings
    mine.unlink()
    monkeypatch.delenv("PHOTOFEED_GATEWAY_PORT")
    monkeypatch.delenv("PHOTOFEED_LOG_JSON")
    assert load_settings() == expected
