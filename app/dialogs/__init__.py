"""The app's dialogs: settings, and the model manager (where the model lives, downloading it, the sample page)."""
