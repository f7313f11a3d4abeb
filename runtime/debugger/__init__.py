"""The source debugger: each source's recent traffic, recorded by the pipeline (`recorder`),
read by the admin and by replays (`selectors`). docs/editor.md, *Source debugger*."""
