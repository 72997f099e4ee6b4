"""`maxsight run` tells a Stage B problem as the window does (issue 25): a text reader that fails
in a real run is one line on stderr when it appears, said once through the outputs, and listed in
the summary; later frames do not repeat it."""
from __future__ import annotations

from engine.config import EngineConfig
from engine.pipeline import Pipeline
from engine.samples import sample_video
from maxsight_app.capture.feed import Feed
from maxsight_app.capture.video import VideoFileSource
from maxsight_app.commands.run import run, summary_table
from maxsight_app.outputs.base import SpyOutput
from maxsight_app.session import Session


def test_a_failing_text_reader_is_told_once_on_the_command_line(installed_models, tmp_path, capsys):
    from engine.stage_b.scheduler import ProcessorSpec, StageBScheduler
    sched = StageBScheduler({"ocr": ProcessorSpec("tests.fakes.stage_b:raises")}, timeout_s=5.0, max_failures=1)
    try:
        pipe = Pipeline(EngineConfig(detector="nanodet"), installed_models, stage_b=sched)
        spy = SpyOutput()
        session = Session(pipe, outputs=[spy])
        assert pipe.request_text()                              # "read text now": the reader fails
        feed = Feed(VideoFileSource(str(sample_video())), audio=False, max_frames=60)
        summary = run(session, feed, tmp_path / "r.jsonl", progress=False)
    finally:
        sched.close()
    err = capsys.readouterr().err
    told = [line for line in err.splitlines() if "ocr failed" in line]
    assert len(told) == 1 and told[0].startswith("maxsight: "), err
    assert sum("ocr failed" in c.text for c in spy.cues) == 1
    assert any("ocr failed" in p for p in summary["problems"])
    assert "problem: " in summary_table(summary)
