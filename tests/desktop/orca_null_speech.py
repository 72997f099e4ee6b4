"""A speech server for Orca that makes no sound: Orca logs every "SPEECH OUTPUT" itself before it
hands the words to a server, so the tests read what it would say without speech-dispatcher (which
cannot start on a machine with no sound card, and can hang Orca while it tries). Imported by Orca
(Debian's /usr/bin/python3) through PYTHONPATH; named in the test profile's user-settings.conf.

It also makes Orca's debug log line-buffered: Orca writes it through a block buffer, so a test
reading the log while Orca runs would see an utterance seconds late (or not at all) and take a
buffered log for a hung screen reader."""
from orca import debug, speechserver

if debug.debugFile is not None and hasattr(debug.debugFile, "reconfigure"):
    debug.debugFile.reconfigure(line_buffering=True)


class SpeechServer(speechserver.SpeechServer):
    _active = None

    @staticmethod
    def getFactoryName():
        return "Silent (MaxSight tests)"

    @staticmethod
    def getSpeechServers():
        return [SpeechServer.getSpeechServer()]

    @staticmethod
    def getSpeechServer(info=None):
        if SpeechServer._active is None:
            SpeechServer._active = SpeechServer()
        return SpeechServer._active

    @staticmethod
    def shutdownActiveServers():
        SpeechServer._active = None

    def getInfo(self):
        return [self.getFactoryName(), "silent"]

    def getVoiceFamilies(self):
        return []
