// Placeholder: the libvirt client adapter (issue 3).
#pragma once
