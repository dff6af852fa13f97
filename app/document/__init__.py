"""The open document as data: regions and results (model), the workspace that holds it, session files, autosave,
export, the forms a result is copied or exported in (content) and table edits. No widgets."""
